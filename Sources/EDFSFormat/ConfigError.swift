/// Why a config file was rejected; the description names the file and, where there is one, the line:
/// `Config/dfs.conf:4: bad port "99999" (1–65535)`. Messages never repeat a password digest.
public struct ConfigError: Error, Equatable, Sendable, CustomStringConvertible {
    /// The config file's path as it was given.
    public let file: String
    /// The 1-based line at fault, or nil for a problem with the whole file.
    public let line: Int?
    public let reason: Reason

    public init(file: String, line: Int?, reason: Reason) {
        self.file = file
        self.line = line
        self.reason = reason
    }

    public var description: String {
        if let line { return "\(file):\(line): \(reason)" }
        return "\(file): \(reason)"
    }

    /// What was wrong.
    public enum Reason: Equatable, Sendable, CustomStringConvertible {
        /// The file does not exist.
        case noSuchFile
        /// The file exists but could not be read (the system's reason).
        case unreadable(String)
        /// The file is not UTF-8 text.
        case notUTF8
        /// The file is larger than the limit (bytes).
        case tooLarge(limit: Int)
        /// A line is longer than the limit (bytes).
        case lineTooLong(limit: Int)
        /// A line holds a control character other than tab (or a lone carriage return).
        case controlCharacter
        /// A line is none of the accepted forms.
        case malformedLine
        /// A `Server` line does not have exactly a name and an address.
        case malformedServer
        /// A server name breaks `NameRules`.
        case badServerName(String)
        /// A server address is not `HOST:PORT`.
        case badAddress(HostPortError)
        /// More `Server` lines than the limit.
        case tooManyServers(limit: Int)
        /// The file has no `Server` line.
        case noServers
        /// A user name breaks `NameRules`.
        case badUserName(String)
        /// A `Username:` names a user already named on `firstLine` (compared ignoring case).
        case duplicateUser(String, firstLine: Int)
        /// A `Password:` line with no `Username:` line before it.
        case passwordWithoutUser
        /// A second `Password:` for the user of the last `Username:` line.
        case duplicatePassword(user: String, firstLine: Int)
        /// A `Password:` value that is not 32 hex digits; `length` is how many characters it had.
        case badDigest(length: Int)
        /// A `Password:` value that starts like a SCRAM verifier but does not parse; the text says why.
        case badSCRAMVerifier(String)
        /// `Key:` with nothing after the colon.
        case missingValue(key: String)
        /// A setting given twice (compared ignoring case).
        case duplicateSetting(key: String, firstLine: Int)
        /// A value a setting does not accept; `expected` says what it does.
        case badValue(key: String, value: String, expected: String)

        public var description: String {
            switch self {
            case .noSuchFile:
                return "no such file"
            case let .unreadable(why):
                return "cannot read: \(why)"
            case .notUTF8:
                return "not UTF-8 text"
            case let .tooLarge(limit):
                return "file is larger than \(ByteCount(limit)) (the limit for a config file)"
            case let .lineTooLong(limit):
                return "line is longer than \(limit) bytes"
            case .controlCharacter:
                return "line holds a control character (only tab is allowed)"
            case .malformedLine:
                return "not a config line: expected \"Server NAME HOST:PORT\", \"Key: value\", a # comment or a blank line"
            case .malformedServer:
                return "malformed Server line: expected \"Server NAME HOST:PORT\""
            case let .badServerName(name):
                return "bad server name \"\(MessageText.clip(name))\" (1–64 of A–Z a–z 0–9 . _ -, not starting with . or -)"
            case let .badAddress(error):
                return error.description
            case let .tooManyServers(limit):
                return "more than \(limit) Server lines"
            case .noServers:
                return "no Server lines (expected at least one \"Server NAME HOST:PORT\")"
            case let .badUserName(name):
                return "bad user name \"\(MessageText.clip(name))\" (1–64 of A–Z a–z 0–9 . _ -, not starting with . or -)"
            case let .duplicateUser(name, firstLine):
                return "user \"\(MessageText.clip(name))\" is already defined on line \(firstLine)"
            case .passwordWithoutUser:
                return "Password: without a Username: line before it"
            case let .duplicatePassword(user, firstLine):
                return "second Password: for user \"\(MessageText.clip(user))\" (first on line \(firstLine))"
            case let .badDigest(length):
                let got = length == 32 ? "not all hex digits" : "got \(length) characters"
                return "Password: must be the MD5 digest of the password as 32 hex digits (\(got))"
                    + " or a SCRAM-SHA-256$I:SALT$STOREDKEY:SERVERKEY verifier"
            case let .badSCRAMVerifier(why):
                return "Password: is not a valid SCRAM-SHA-256 verifier (\(why))"
            case let .missingValue(key):
                return "\(MessageText.clip(key)): has no value"
            case let .duplicateSetting(key, firstLine):
                return "\(MessageText.clip(key)): is already set on line \(firstLine)"
            case let .badValue(key, value, expected):
                return "bad \(MessageText.clip(key)) \"\(MessageText.clip(value))\" (\(expected))"
            }
        }
    }
}
