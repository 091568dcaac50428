import EDFSCrypto
import EDFSFormat

/// The limits a node enforces (docs/PROTOCOL.md, "Limits"). Defaults suit a node with a few clients.
public struct NodeLimits: Sendable, Equatable {
    /// Largest frame length field accepted.
    public var maxFrameLength: Int = WireProtocol.defaultMaxFrameLength
    /// Largest object accepted.
    public var maxObjectLength: UInt64 = 64 << 30
    /// Requests in flight per connection.
    public var maxStreams: Int = 32
    /// Logged-in connections served at once; a LOGIN beyond it is refused with FATAL `limit exceeded`.
    public var maxConnections: Int = 64
    /// Connections not logged in yet (TLS handshake, HELLO, LOGIN). When full, a new connection displaces the oldest
    /// such connection of the peer address that holds the most of them; a logged-in connection is never displaced.
    public var maxUnauthenticatedConnections: Int = 16
    /// Logged-in connections per user.
    public var maxConnectionsPerUser: Int = 16
    /// Logged-in connections per peer IP address.
    public var maxConnectionsPerAddress: Int = 32
    /// GETs in flight per user on this node (beside `maxStreams` requests per connection).
    public var maxGetStreamsPerUser: Int = 64
    /// GETs in flight per peer IP address on this node.
    public var maxGetStreamsPerAddress: Int = 128
    /// Most GET credit (initial window plus WINDOW increments not yet used) the node holds for one GET; a client
    /// that asks for more is clamped to it.
    public var maxGetWindow: Int = 8 << 20
    /// Time from accepting a connection to a successful LOGIN (TLS handshake, HELLO and LOGIN together). It includes
    /// the client's PBKDF2 of a SCRAM login (600,000 iterations: ~0.2 s here, seconds on a small device), so it is not
    /// shorter; a flood of idle connections is handled by the unauthenticated pool, not by this deadline.
    public var loginTimeout: Duration = .seconds(10)
    /// Time without any byte read or written after which a connection is closed.
    public var idleTimeout: Duration = .seconds(300)
    /// Failed-login throttling.
    public var loginThrottle = LoginThrottle()
    /// Bytes of read buffers all GETs of the node may hold at once.
    public var readBufferBudget: Int = 32 << 20
    /// Frames buffered per connection before the node stops reading its socket (while disk writes catch up).
    public var inboundFrameBuffer: Int = 4

    public init() {}

    /// Largest DATA payload: 1 MiB, or what the frame limit leaves.
    public var maxDataPayload: Int {
        min(WireProtocol.maxDataPayload, maxFrameLength - WireProtocol.lengthCountedHeaderBytes)
    }
}

/// Everything a storage node needs to run.
public struct NodeConfiguration: Sendable {
    /// The node's name (its `Server` line; the name in HELLO and logs).
    public var name: String
    /// Address to listen on; port 0 picks a free port.
    public var host: String
    public var port: Int
    /// The data directory (`users/…` lives under it).
    public var dataDirectory: String
    /// PEM files: the node's certificate (chain) and private key, and the cluster CA.
    public var certificateFile: String
    public var privateKeyFile: String
    public var caFile: String
    /// User name → MD5 digest of the password (16 bytes), from the config's `Username:`/`Password:` lines.
    public var users: [String: [UInt8]]
    /// User name → SCRAM-SHA-256 verifier, from `Password: SCRAM-SHA-256$…` lines (a name is in `users` or here).
    public var scramUsers: [String: SCRAMVerifier] = [:]
    /// `LegacyMD5Logins:` (default yes): whether LOGIN method 1 is accepted at all.
    public var legacyMD5Logins = true
    /// Iterations of the mock SCRAM challenge an unknown user gets (should match what real verifiers use).
    public var scramMockIterations: UInt32 = PBKDF2.defaultIterations
    public var limits: NodeLimits
    /// Data bytes per checksummed block on disk.
    public var blockSize: Int = 1 << 20
    /// `DirectIO:` (default no): whether objects of 4 MiB or more are written and served past the page cache
    /// (O_DIRECT; a file system that refuses it gets buffered I/O). Manifests, keyslots and small objects never are.
    public var directIO = false
    /// What the config parser warned about (unknown settings, …), for the node to log at start.
    public var configWarnings: [String] = []
    /// `ScrubInterval:`: how often the running node scrubs, quarantines and collects garbage; nil (the default): never.
    public var scrubInterval: Duration?
    /// `OrphanGracePeriod:` (default 24 h): how old an unreferenced object or a temporary file must be before the
    /// node's scrub removes it.
    public var orphanGracePeriod: Duration = ScrubOptions.defaultGracePeriod
    /// `MetricsListen:`: where the Prometheus endpoint listens (port 0: a free port); nil (the default): no endpoint.
    public var metricsListen: HostPort?
    /// How long a metrics scrape reuses the last walk of the data folder for the storage gauges (not a config line).
    public var metricsStorageRefresh: Duration = .seconds(10)
    /// How long a metrics connection may take to send its request before it is closed (not a config line; at most
    /// the connection's 30 s lifetime counts).
    public var metricsRequestTimeout: Duration = .seconds(5)
    /// Whether PUT_MANIFESTS is served (not a config line): false answers it `unsupported`, as a node that predates it
    /// does, so tests can run a client against an older node.
    public var servesBulkManifestWrites = true

    public init(name: String, host: String, port: Int, dataDirectory: String, certificateFile: String,
                privateKeyFile: String, caFile: String, users: [String: [UInt8]], limits: NodeLimits = NodeLimits()) {
        self.name = name
        self.host = host
        self.port = port
        self.dataDirectory = dataDirectory
        self.certificateFile = certificateFile
        self.privateKeyFile = privateKeyFile
        self.caFile = caFile
        self.users = users
        self.limits = limits
    }

    /// Every user's login verifier (a SCRAM verifier wins over an MD5 digest of the same name).
    public var loginVerifiers: [String: LoginVerifier] {
        users.mapValues(LoginVerifier.md5).merging(scramUsers.mapValues(LoginVerifier.scram)) { _, scram in scram }
    }

    /// Why a node configuration could not be built.
    public enum LoadError: Error, CustomStringConvertible, Sendable {
        case config(ConfigError)
        case unknownNode(name: String, file: String)
        case badListen(String)
        case badName(String)

        public var description: String {
            switch self {
            case let .config(error): return error.description
            case let .unknownNode(name, file):
                return "\(file): no \"Server \(name) HOST:PORT\" line (give --listen HOST:PORT, or add the line)"
            case let .badListen(text): return "bad --listen \"\(text)\": expected HOST:PORT"
            case let .badName(name): return "bad node name \"\(name)\" (1–64 of A–Z a–z 0–9 . _ -)"
            }
        }
    }

    /// Builds a node's configuration from a cluster config file (the seed's `dfs.conf` format):
    /// the listen address from `Server NAME HOST:PORT` unless `listen` is given, certificate files from the
    /// `Keys:` folder unless given, users from `Username:`/`Password:`, limits from `MaxFrameSize:`,
    /// `MaxObjectSize:`, `MaxStreams:`, `MaxConnections:`, `LoginTimeout:`, `IdleTimeout:` and the
    /// denial-of-service limits, the scrub from `ScrubInterval:` and `OrphanGracePeriod:`, the metrics endpoint from
    /// `MetricsListen:`, direct I/O from `DirectIO:` (docs/CONFIG.md).
    public static func load(configFile: String, name: String, dataDirectory: String, listen: String? = nil,
                            certificateFile: String? = nil, privateKeyFile: String? = nil,
                            caFile: String? = nil) throws(LoadError) -> NodeConfiguration {
        guard NameRules.isValidServerName(name) else { throw .badName(name) }
        let config: ClusterConfig
        do {
            config = try ClusterConfig.load(path: configFile)
        } catch {
            throw .config(error)
        }
        let host: String
        let port: Int
        if let listen {
            // HostPort refuses port 0, which a listener may use (the OS picks a free port).
            guard let colon = listen.lastIndex(of: ":") else { throw .badListen(listen) }
            let portText = listen[listen.index(after: colon)...]
            guard (1...5).contains(portText.count), portText.allSatisfy({ $0.isASCII && $0.isNumber }),
                  let number = Int(portText), number <= 65535,
                  let parsed = try? HostPort(parsing: listen[..<colon] + ":1") else { throw .badListen(listen) }
            host = parsed.host
            port = number
        } else {
            guard let match = config.server(named: name) else { throw .unknownNode(name: name, file: configFile) }
            host = match.server.host
            port = match.server.port
        }
        return try finish(config: config, name: name, host: host, port: port, dataDirectory: dataDirectory,
                          certificateFile: certificateFile, privateKeyFile: privateKeyFile, caFile: caFile)
    }

    private static func finish(config: ClusterConfig, name: String, host: String, port: Int, dataDirectory: String,
                               certificateFile: String?, privateKeyFile: String?,
                               caFile: String?) throws(LoadError) -> NodeConfiguration {
        var users: [String: [UInt8]] = [:]
        for (user, hex) in config.passwordDigests {
            if let digest = Hex.decode(hex), digest.count == 16 { users[user] = digest }
        }
        var scramUsers: [String: SCRAMVerifier] = [:]
        for user in config.users { if let verifier = user.scramVerifier { scramUsers[user.name] = verifier } }
        let legacyMD5Logins: Bool
        let directIO: Bool
        do {
            legacyMD5Logins = try config.boolean("LegacyMD5Logins") ?? true
            directIO = try config.boolean("DirectIO") ?? false
        } catch {
            throw .config(error)
        }
        var limits = NodeLimits()
        let scrubInterval: Duration?
        let orphanGracePeriod: Duration
        // Checked by the parser (`ConfigSettings`): a value that does not parse never gets here.
        let metricsListen = config.string("MetricsListen").flatMap { try? HostPort(parsing: $0, allowPortZero: true) }
        do {
            if let value = try config.byteSize("MaxFrameSize") { limits.maxFrameLength = value }
            if let value = try config.byteSize("MaxObjectSize") { limits.maxObjectLength = UInt64(value) }
            if let value = try config.integer("MaxStreams") { limits.maxStreams = value }
            if let value = try config.integer("MaxConnections") { limits.maxConnections = value }
            if let value = try config.seconds("LoginTimeout") { limits.loginTimeout = value }
            if let value = try config.seconds("IdleTimeout") { limits.idleTimeout = value }
            try loadDenialOfServiceLimits(config, into: &limits)
            scrubInterval = try config.seconds("ScrubInterval")
            orphanGracePeriod = try config.seconds("OrphanGracePeriod") ?? ScrubOptions.defaultGracePeriod
        } catch {
            throw .config(error)
        }
        let keys = config.keysDirectory
        func inKeys(_ file: String) -> String { keys.isEmpty ? file : (keys.hasSuffix("/") ? keys + file : keys + "/" + file) }
        var configuration = NodeConfiguration(
            name: name, host: host, port: port, dataDirectory: dataDirectory,
            certificateFile: certificateFile ?? inKeys(name + ".crt"),
            privateKeyFile: privateKeyFile ?? inKeys(name + ".key"),
            caFile: caFile ?? inKeys("ca.crt"),
            users: users, limits: limits)
        configuration.scramUsers = scramUsers
        configuration.legacyMD5Logins = legacyMD5Logins
        configuration.directIO = directIO
        configuration.configWarnings = config.warnings.map { String(describing: $0) }
        configuration.scrubInterval = scrubInterval
        configuration.orphanGracePeriod = orphanGracePeriod
        configuration.metricsListen = metricsListen
        return configuration
    }
}

extension NodeConfiguration {
    /// The connection, GET and memory limits of docs/CONFIG.md ("Denial-of-service limits").
    static func loadDenialOfServiceLimits(_ config: ClusterConfig, into limits: inout NodeLimits) throws(ConfigError) {
        if let value = try config.integer("MaxUnauthenticatedConnections") { limits.maxUnauthenticatedConnections = value }
        if let value = try config.integer("MaxConnectionsPerUser") { limits.maxConnectionsPerUser = value }
        if let value = try config.integer("MaxConnectionsPerAddress") { limits.maxConnectionsPerAddress = value }
        if let value = try config.integer("MaxGetStreamsPerUser") { limits.maxGetStreamsPerUser = value }
        if let value = try config.integer("MaxGetStreamsPerAddress") { limits.maxGetStreamsPerAddress = value }
        if let value = try config.byteSize("MaxGetWindow") { limits.maxGetWindow = value }
        if let value = try config.byteSize("ReadBufferBudget") { limits.readBufferBudget = value }
    }
}
