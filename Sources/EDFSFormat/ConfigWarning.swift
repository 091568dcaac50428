/// Something in a config file that is accepted but probably not what was meant.
public struct ConfigWarning: Hashable, Sendable, CustomStringConvertible {
    public let file: String
    /// The 1-based line the warning is about.
    public let line: Int
    public let kind: Kind

    public init(file: String, line: Int, kind: Kind) {
        self.file = file
        self.line = line
        self.kind = kind
    }

    public var description: String { "\(file):\(line): warning: \(kind)" }

    public enum Kind: Hashable, Sendable, CustomStringConvertible {
        /// A server name used before, on `firstLine`; `position` is this server's 1-based position.
        case duplicateServerName(String, firstLine: Int, position: Int)
        /// A server address used before, on `firstLine`.
        case duplicateAddress(String, firstLine: Int)
        /// A `Key: value` setting edfs does not know; it is kept and ignored.
        case unknownSetting(String)
        /// A lookup by a server name that several lines use; the server on `usedLine` was taken.
        case ambiguousServerName(String, usedLine: Int, otherLines: [Int])

        public var description: String {
            switch self {
            case let .duplicateServerName(name, firstLine, position):
                return "server name \"\(name)\" is also used on line \(firstLine); "
                    + "nodes are identified by position, this is node \(position)"
            case let .duplicateAddress(address, firstLine):
                return "address \(address) is also used on line \(firstLine)"
            case let .unknownSetting(key):
                return "unknown setting \"\(MessageText.clip(key))\" (kept, not used by edfs)"
            case let .ambiguousServerName(name, usedLine, otherLines):
                let others = otherLines.map(String.init).joined(separator: ", ")
                return "server name \"\(name)\" is also used on line \(others); using the one on line \(usedLine)"
            }
        }
    }
}
