#if canImport(Glibc)
import Glibc
#elseif canImport(Darwin)
import Darwin
#endif

/// A parsed `dfs.conf` (node side) or `dfc.conf` (client side); docs/CONFIG.md is the reference.
///
/// The seed's lines parse as they are: `Server NAME HOST:PORT`, `Username: U`, `Password: MD5HEX`.
/// Other lines are `Key: value` settings. Blank lines, `#` comment lines, CRLF line ends, a UTF-8 byte order
/// mark and spaces or tabs around anything are accepted; keys and the word `Server` are matched ignoring case.
/// Nodes are identified by their position in the file, so a repeated server name is only a warning.
/// Parsing is pure; `load(path:)` is the one function that reads a file.
public struct ClusterConfig: Sendable {
    /// Largest config file accepted, in bytes.
    public static let maxFileBytes = 1 << 20
    /// Longest line accepted, in bytes, without its line end.
    public static let maxLineBytes = 4096
    /// Most `Server` lines accepted.
    public static let maxServers = ConfigSettings.maxServers
    /// `SegmentSize` when the file does not set it.
    public static let defaultSegmentSize = ByteCount.mebi
    /// `InlineLimit` when the file does not set it: one file-system block, so an inline file costs the nodes no more
    /// blocks than the manifest alone (docs/PERFORMANCE.md, "Inline small files").
    public static let defaultInlineLimit = 4 * ByteCount.kibi
    /// `Keys` when the file does not set it (relative to the config file's folder).
    public static let defaultKeysDirectory = "Keys"

    /// One `Server NAME HOST:PORT` line. Its node number is its index in `servers`.
    public struct Server: Hashable, Sendable {
        public let name: String
        public let address: HostPort
        /// The 1-based line it was defined on.
        public let line: Int
        public var host: String { address.host }
        public var port: Int { address.port }
    }

    /// One `Username:` line and the `Password:` line that followed it, if any.
    public struct User: Hashable, Sendable, CustomStringConvertible {
        public let name: String
        /// The MD5 digest of the password as 32 lowercase hex digits (legacy login), or nil when none was given.
        /// Password-equivalent for legacy logins: never print or log it.
        public let passwordMD5: String?
        /// The SCRAM-SHA-256 verifier of a `Password: SCRAM-SHA-256$…` line, or nil. Never print or log it.
        public var scramVerifier: SCRAMVerifier? = nil
        /// The 1-based line of the `Username:`.
        public let line: Int
        public var description: String {
            scramVerifier != nil ? "\(name) (SCRAM verifier set)" : passwordMD5 == nil ? name : "\(name) (password digest set)"
        }

        /// The user's login verifier from the `Password:` line, if any.
        public var loginVerifier: LoginVerifier? {
            if let scramVerifier { return .scram(scramVerifier) }
            return passwordMD5.flatMap(Hex.decode).map(LoginVerifier.md5)
        }
    }

    /// One `Key: value` line, known to edfs or not.
    public struct Setting: Hashable, Sendable {
        /// The key as written.
        public let key: String
        /// The value with surrounding spaces removed.
        public let value: String
        /// The 1-based line it was set on.
        public let line: Int
        /// Whether edfs reads this setting (unknown ones are kept and warned about).
        public let isKnown: Bool
    }

    /// The result of looking a server up by name.
    public struct ServerMatch: Hashable, Sendable {
        /// The node number (index in `servers`) of the first server with the name.
        public let index: Int
        public let server: Server
        /// Node numbers of later servers with the same name.
        public let otherIndices: [Int]
        /// Set when the name is not unique.
        public let warning: ConfigWarning?
    }

    /// The config file's path as given; errors and warnings name it, relative paths resolve against its folder.
    public let path: String
    /// Servers in file order: node i is `servers[i]`.
    public let servers: [Server]
    /// Users in file order.
    public let users: [User]
    /// `Key: value` settings in file order (not `Username:`/`Password:`).
    public let settings: [Setting]
    /// Accepted oddities, in line order.
    public let warnings: [ConfigWarning]
    /// The `Keys:` folder (certificates), resolved; default `Keys` beside the config file.
    public let keysDirectory: String
    /// The `CA:` certificate file, resolved; default `<keysDirectory>/ca.crt`.
    public let caFile: String
    /// N = number of servers and R = `Replicas:` (default min(2, N)).
    public let placement: Placement
    /// `WriteQuorum:`, stripes durable on this many nodes make a put succeed (default max(1, R − 1)).
    public let writeQuorum: Int
    /// `SegmentSize:` in bytes (default 1 MiB).
    public let segmentSize: Int
    /// `InlineLimit:` in bytes (default 4 KiB, 0 = never): a put stores a file of at most this many bytes, and at most
    /// one segment, inside its manifest instead of in stripe objects.
    public let inlineLimit: Int

    /// R, the number of nodes that hold each stripe.
    public var replicas: Int { placement.replicas }

    /// Nodes that must hold a manifest (a put, a removal's tombstone) for the commit to count: R. With
    /// `readQuorum` it makes every read meet every commit (commitQuorum + readQuorum = N + 1).
    public var commitQuorum: Int { placement.replicas }

    /// Nodes that must answer before a read trusts what it found as the newest version: N − R + 1, so any R − 1
    /// nodes may be down (docs/ARCHITECTURE.md, "Quorums").
    public var readQuorum: Int { placement.nodeCount - placement.replicas + 1 }

    /// The first `Username:` of the file: the client's user when none is given.
    public var defaultUser: String? { users.first?.name }

    /// User name → login verifier, for users that have a `Password:` line (MD5 digest or SCRAM verifier).
    public var loginVerifiers: [String: LoginVerifier] {
        var result: [String: LoginVerifier] = [:]
        for user in users { if let verifier = user.loginVerifier { result[user.name] = verifier } }
        return result
    }

    /// User name → MD5 hex digest, for users that have a legacy MD5 `Password:` line.
    public var passwordDigests: [String: String] {
        var result: [String: String] = [:]
        for user in users { if let digest = user.passwordMD5 { result[user.name] = digest } }
        return result
    }

    /// The folder of the config file, against which relative paths resolve ("" for the current folder).
    public var directory: String { Self.directory(of: path) }

    /// The user called exactly `name`.
    public func user(named name: String) -> User? { users.first { $0.name == name } }

    /// The first server called `name` and its node number; `warning` is set when others share the name.
    public func server(named name: String) -> ServerMatch? {
        let indices = servers.indices.filter { servers[$0].name == name }
        guard let first = indices.first else { return nil }
        let others = Array(indices.dropFirst())
        let warning = others.isEmpty ? nil : ConfigWarning(
            file: path, line: servers[first].line,
            kind: .ambiguousServerName(name, usedLine: servers[first].line, otherLines: others.map { servers[$0].line })
        )
        return ServerMatch(index: first, server: servers[first], otherIndices: others, warning: warning)
    }

    /// The setting `key` (compared ignoring case), if present.
    public func setting(_ key: String) -> Setting? {
        let lower = key.lowercased()
        return settings.first { $0.key.lowercased() == lower }
    }

    /// The raw value of setting `key`, if present.
    public func string(_ key: String) -> String? { setting(key)?.value }

    /// Setting `key` as a whole number; nil when absent, an error naming its line when it is not a number.
    public func integer(_ key: String) throws(ConfigError) -> Int? {
        guard let setting = setting(key) else { return nil }
        guard let value = ConfigSettings.parseInteger(setting.value) else {
            throw ConfigError(file: path, line: setting.line,
                              reason: .badValue(key: setting.key, value: setting.value, expected: "a whole number"))
        }
        return value
    }

    /// Setting `key` as a byte count (`ByteCount` syntax, e.g. `64M`); nil when absent.
    public func byteSize(_ key: String) throws(ConfigError) -> Int? {
        guard let setting = setting(key) else { return nil }
        do {
            return try ByteCount(parsing: setting.value).bytes
        } catch {
            throw ConfigError(file: path, line: setting.line,
                              reason: .badValue(key: setting.key, value: setting.value, expected: "a size, e.g. 64M"))
        }
    }

    /// Setting `key` as `yes`/`no` (or `on`/`off`); nil when absent.
    public func boolean(_ key: String) throws(ConfigError) -> Bool? {
        guard let setting = setting(key) else { return nil }
        guard let value = ConfigSettings.parseBoolean(setting.value) else {
            throw ConfigError(file: path, line: setting.line,
                              reason: .badValue(key: setting.key, value: setting.value, expected: "yes or no (on or off)"))
        }
        return value
    }

    /// Setting `key` as a time (`30`, `30s`, `500ms`, `5m`, `1h`); nil when absent.
    public func seconds(_ key: String) throws(ConfigError) -> Duration? {
        guard let setting = setting(key) else { return nil }
        guard let seconds = ConfigSettings.parseSeconds(setting.value) else {
            throw ConfigError(file: path, line: setting.line,
                              reason: .badValue(key: setting.key, value: setting.value, expected: "a time, e.g. 30s"))
        }
        return .milliseconds(Int64((seconds * 1000).rounded()))
    }

    /// Setting `key` as a path resolved against the config file's folder; nil when absent.
    public func path(_ key: String) -> String? { setting(key).map { resolvePath($0.value) } }

    /// `value` if absolute, else `value` inside the config file's folder.
    public func resolvePath(_ value: String) -> String { Self.join(directory, value) }

    // MARK: - Parsing

    /// Parses the text of a config file. `path` is used only in messages and to resolve relative paths.
    public init(parsing text: String, path: String) throws(ConfigError) {
        var bytes = ArraySlice(text.utf8)
        guard bytes.count <= Self.maxFileBytes else {
            throw ConfigError(file: path, line: nil, reason: .tooLarge(limit: Self.maxFileBytes))
        }
        if bytes.starts(with: [0xEF, 0xBB, 0xBF]) { bytes = bytes.dropFirst(3) }
        var parser = Parser(path: path)
        var lineNumber = 0
        for line in bytes.split(separator: UInt8(ascii: "\n"), omittingEmptySubsequences: false) {
            lineNumber += 1
            try parser.take(line, number: lineNumber)
        }
        self = try parser.finish()
    }

    private init(
        path: String, servers: [Server], users: [User], settings: [Setting], warnings: [ConfigWarning],
        keysDirectory: String, caFile: String, placement: Placement, writeQuorum: Int, segmentSize: Int,
        inlineLimit: Int
    ) {
        self.inlineLimit = inlineLimit
        self.path = path
        self.servers = servers
        self.users = users
        self.settings = settings
        self.warnings = warnings
        self.keysDirectory = keysDirectory
        self.caFile = caFile
        self.placement = placement
        self.writeQuorum = writeQuorum
        self.segmentSize = segmentSize
    }

    /// Line-by-line state of one parse.
    private struct Parser {
        let path: String
        var servers: [Server] = []
        var users: [(name: String, line: Int, digest: String?, scram: SCRAMVerifier?, digestLine: Int?)] = []
        var settings: [Setting] = []
        var warnings: [ConfigWarning] = []

        init(path: String) { self.path = path }

        func error(_ line: Int?, _ reason: ConfigError.Reason) -> ConfigError {
            ConfigError(file: path, line: line, reason: reason)
        }

        mutating func take(_ raw: ArraySlice<UInt8>, number: Int) throws(ConfigError) {
            var line = raw
            if line.last == UInt8(ascii: "\r") { line = line.dropLast() }
            guard line.count <= ClusterConfig.maxLineBytes else {
                throw error(number, .lineTooLong(limit: ClusterConfig.maxLineBytes))
            }
            guard !line.contains(where: { ($0 < 0x20 && $0 != 0x09) || $0 == 0x7f }) else {
                throw error(number, .controlCharacter)
            }
            line = trimmed(line)
            if line.isEmpty || line.first == UInt8(ascii: "#") { return }

            let firstWord = line.prefix { !isBlank($0) }
            if lowercased(firstWord) == "server" {
                try takeServer(line.dropFirst(firstWord.count), number: number)
                return
            }
            guard let colon = line.firstIndex(of: UInt8(ascii: ":")) else { throw error(number, .malformedLine) }
            let keyBytes = trimmed(line[..<colon])
            guard isValidKey(keyBytes) else { throw error(number, .malformedLine) }
            let key = String(decoding: keyBytes, as: UTF8.self)
            let valueBytes = trimmed(line[(colon + 1)...])
            let value = String(decoding: valueBytes, as: UTF8.self)

            switch key.lowercased() {
            case "server":
                try takeServer(valueBytes, number: number)
            case "username":
                guard !value.isEmpty else { throw error(number, .missingValue(key: key)) }
                try takeUser(value, number: number)
            case "password":
                guard !value.isEmpty else { throw error(number, .missingValue(key: key)) }
                try takePassword(value, number: number)
            default:
                guard !value.isEmpty else { throw error(number, .missingValue(key: key)) }
                try takeSetting(key: key, value: value, number: number)
            }
        }

        mutating func takeServer(_ rest: ArraySlice<UInt8>, number: Int) throws(ConfigError) {
            let fields = rest.split(whereSeparator: isBlank)
            guard fields.count == 2 else { throw error(number, .malformedServer) }
            let name = String(decoding: fields[0], as: UTF8.self)
            guard NameRules.isValidServerName(name) else { throw error(number, .badServerName(name)) }
            let address: HostPort
            do {
                address = try HostPort(parsing: String(decoding: fields[1], as: UTF8.self))
            } catch {
                throw self.error(number, .badAddress(error))
            }
            guard servers.count < ClusterConfig.maxServers else {
                throw error(number, .tooManyServers(limit: ClusterConfig.maxServers))
            }
            if let earlier = servers.first(where: { $0.name == name }) {
                warnings.append(ConfigWarning(file: path, line: number, kind: .duplicateServerName(
                    name, firstLine: earlier.line, position: servers.count + 1)))
            }
            if let earlier = servers.first(where: { $0.address == address }) {
                warnings.append(ConfigWarning(file: path, line: number, kind: .duplicateAddress(
                    address.description, firstLine: earlier.line)))
            }
            servers.append(Server(name: name, address: address, line: number))
        }

        mutating func takeUser(_ name: String, number: Int) throws(ConfigError) {
            guard NameRules.isValidUserName(name) else { throw error(number, .badUserName(name)) }
            let lower = name.lowercased()
            if let earlier = users.first(where: { $0.name.lowercased() == lower }) {
                throw error(number, .duplicateUser(name, firstLine: earlier.line))
            }
            users.append((name: name, line: number, digest: nil, scram: nil, digestLine: nil))
        }

        mutating func takePassword(_ value: String, number: Int) throws(ConfigError) {
            guard let last = users.indices.last else { throw error(number, .passwordWithoutUser) }
            if let firstLine = users[last].digestLine {
                throw error(number, .duplicatePassword(user: users[last].name, firstLine: firstLine))
            }
            if SCRAMVerifier.looksLikeVerifier(value) {
                do {
                    users[last].scram = try SCRAMVerifier.parse(value)
                } catch {
                    throw self.error(number, .badSCRAMVerifier(error.reason))
                }
                users[last].digestLine = number
                return
            }
            guard value.utf8.count == 32, let digest = Hex.decode(value) else {
                throw error(number, .badDigest(length: value.count))
            }
            users[last].digest = Hex.encode(digest)
            users[last].digestLine = number
        }

        mutating func takeSetting(key: String, value: String, number: Int) throws(ConfigError) {
            let lower = key.lowercased()
            if let earlier = settings.first(where: { $0.key.lowercased() == lower }) {
                throw error(number, .duplicateSetting(key: key, firstLine: earlier.line))
            }
            let known = ConfigSettings.known(key)
            if let known, let expected = ConfigSettings.problem(with: value, kind: known.kind) {
                throw error(number, .badValue(key: key, value: value, expected: expected))
            }
            if known == nil {
                warnings.append(ConfigWarning(file: path, line: number, kind: .unknownSetting(key)))
            }
            settings.append(Setting(key: key, value: value, line: number, isKnown: known != nil))
        }

        func finish() throws(ConfigError) -> ClusterConfig {
            guard !servers.isEmpty else { throw error(nil, .noServers) }
            func find(_ key: String) -> Setting? {
                let lower = key.lowercased()
                return settings.first { $0.key.lowercased() == lower }
            }
            let nodeCount = servers.count
            var replicas = min(2, nodeCount)
            if let setting = find("Replicas"), let value = ConfigSettings.parseInteger(setting.value) {
                guard value <= nodeCount else {
                    throw error(setting.line, .badValue(key: setting.key, value: setting.value,
                                                       expected: "1…\(nodeCount), the number of Server lines"))
                }
                replicas = value
            }
            var writeQuorum = max(1, replicas - 1)
            if let setting = find("WriteQuorum"), let value = ConfigSettings.parseInteger(setting.value) {
                guard value <= replicas else {
                    throw error(setting.line, .badValue(key: setting.key, value: setting.value,
                                                       expected: "1…\(replicas), the number of replicas"))
                }
                writeQuorum = value
            }
            var segmentSize = ClusterConfig.defaultSegmentSize
            if let setting = find("SegmentSize"), let value = try? ByteCount(parsing: setting.value) {
                segmentSize = value.bytes
            }
            var inlineLimit = ClusterConfig.defaultInlineLimit
            if let setting = find("InlineLimit"), let value = try? ByteCount(parsing: setting.value) {
                inlineLimit = value.bytes
            }
            let directory = ClusterConfig.directory(of: path)
            let keys = ClusterConfig.join(directory, find("Keys")?.value ?? ClusterConfig.defaultKeysDirectory)
            let ca = find("CA").map { ClusterConfig.join(directory, $0.value) } ?? ClusterConfig.join(keys, "ca.crt")
            let placement: Placement
            do {
                placement = try Placement(nodeCount: nodeCount, replicas: replicas)
            } catch {
                // Unreachable: 1 ≤ replicas ≤ nodeCount was checked above.
                throw self.error(find("Replicas")?.line, .badValue(key: "Replicas", value: String(replicas),
                                                                   expected: error.description))
            }
            return ClusterConfig(
                path: path, servers: servers,
                users: users.map { User(name: $0.name, passwordMD5: $0.digest, scramVerifier: $0.scram, line: $0.line) },
                settings: settings, warnings: warnings, keysDirectory: keys, caFile: ca,
                placement: placement, writeQuorum: writeQuorum, segmentSize: segmentSize, inlineLimit: inlineLimit
            )
        }

        private func isBlank(_ c: UInt8) -> Bool { c == UInt8(ascii: " ") || c == 0x09 }

        private func trimmed(_ bytes: ArraySlice<UInt8>) -> ArraySlice<UInt8> {
            var slice = bytes
            while let first = slice.first, isBlank(first) { slice = slice.dropFirst() }
            while let last = slice.last, isBlank(last) { slice = slice.dropLast() }
            return slice
        }

        private func lowercased(_ bytes: ArraySlice<UInt8>) -> String {
            String(decoding: bytes, as: UTF8.self).lowercased()
        }

        /// `[A-Za-z][A-Za-z0-9_.-]*`, at most 64 characters.
        private func isValidKey(_ bytes: ArraySlice<UInt8>) -> Bool {
            guard let first = bytes.first, bytes.count <= 64, isLetter(first) else { return false }
            return bytes.allSatisfy { c in
                isLetter(c) || (c >= UInt8(ascii: "0") && c <= UInt8(ascii: "9"))
                    || c == UInt8(ascii: "_") || c == UInt8(ascii: ".") || c == UInt8(ascii: "-")
            }
        }

        private func isLetter(_ c: UInt8) -> Bool {
            (c >= UInt8(ascii: "a") && c <= UInt8(ascii: "z")) || (c >= UInt8(ascii: "A") && c <= UInt8(ascii: "Z"))
        }
    }

    // MARK: - Paths

    /// The folder part of `path`: "" for a bare file name, "/" for a file in the root.
    static func directory(of path: String) -> String {
        guard let slash = path.lastIndex(of: "/") else { return "" }
        let folder = path[..<slash]
        return folder.isEmpty ? "/" : String(folder)
    }

    /// `value` if absolute or `folder` is "", else `folder/value`.
    static func join(_ folder: String, _ value: String) -> String {
        if value.hasPrefix("/") || folder.isEmpty { return value }
        return folder.hasSuffix("/") ? folder + value : folder + "/" + value
    }

    // MARK: - Reading the file (the only I/O in EDFSFormat)

    /// Reads and parses the config file at `path` (at most `maxFileBytes`, UTF-8).
    public static func load(path: String) throws(ConfigError) -> ClusterConfig {
        try ClusterConfig(parsing: readText(path), path: path)
    }

    private static func readText(_ path: String) throws(ConfigError) -> String {
        let fd = open(path, O_RDONLY | O_CLOEXEC)
        guard fd >= 0 else {
            let code = errno
            throw ConfigError(file: path, line: nil,
                              reason: code == ENOENT ? .noSuchFile : .unreadable(String(cString: strerror(code))))
        }
        defer { close(fd) }
        var buffer = [UInt8](repeating: 0, count: maxFileBytes + 1)
        var count = 0
        while count < buffer.count {
            let got = buffer.withUnsafeMutableBytes { raw -> Int in
                guard let base = raw.baseAddress else { return 0 }
                return read(fd, base + count, raw.count - count)
            }
            if got == 0 { break }
            if got < 0 {
                let code = errno
                if code == EINTR { continue }
                throw ConfigError(file: path, line: nil, reason: .unreadable(String(cString: strerror(code))))
            }
            count += got
        }
        guard count <= maxFileBytes else { throw ConfigError(file: path, line: nil, reason: .tooLarge(limit: maxFileBytes)) }
        guard let text = String(validating: buffer[..<count], as: UTF8.self) else {
            throw ConfigError(file: path, line: nil, reason: .notUTF8)
        }
        return text
    }
}
