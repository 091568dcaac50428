import EDFSClient
import EDFSCrypto
import EDFSFormat
import EDFSNode
import Foundation

/// A hermetic cluster for one test: N real `StorageNode`s in this process, each on its own temporary data folder,
/// reached by real `NodeConnection`s over `socketpair(AF_UNIX, SOCK_STREAM)` — no TCP port, no TLS, no process.
/// The nodes run the same session, store and limits as over TLS (`StorageNode.serveLocal(connectedSocket:)`).
///
/// ```swift
/// let cluster = try InProcessCluster(nodes: 4, users: ["tester": "correct horse battery"])
/// let connector = cluster.connector(user: "tester")   // a NodeConnector, e.g. for ClusterSession.open
/// let link = try await connector(0, cluster.config.servers[0])
/// await cluster.stop(node: 0)                         // node 0 refuses connections now
/// try await cluster.restart(node: 0)                  // on the same data folder
/// await cluster.shutdown()                            // stops every node, removes the folder
/// ```
public final class InProcessCluster: Sendable {
    /// The folder holding the node config and every data folder; removed by `shutdown()`.
    public let directory: String
    /// The client config: one `Server` line per node (nominal addresses, never dialled), the first user's
    /// `Username:`, `Replicas:`, `WriteQuorum:`, `SegmentSize:`, `InlineLimit:`.
    public let config: ClusterConfig
    /// User name → password, as the nodes' `Password:` lines know them.
    public let passwords: [String: String]
    /// Each node's configuration, as loaded from the generated node config.
    public let nodeConfigurations: [NodeConfiguration]

    /// The running node of each index; nil while stopped.
    private let nodes: PthreadMutex<[StorageNode?]>

    /// Writes a node config with `users` (name → password, their MD5 in `Password:` lines), `scramUsers` (name →
    /// password, SCRAM-SHA-256 verifiers of `scramIterations` with a random salt in `Password:` lines) and
    /// `nodeSettings` (`Key: value` lines such as `MaxConnections`), and starts `nodes` nodes named DFS1, DFS2, ….
    public init(nodes count: Int = 4, users: [String: String] = ["tester": "correct horse battery"],
                scramUsers: [String: String] = [:], scramIterations: UInt32 = 100_000,
                replicas: Int = 2, writeQuorum: Int? = nil, segmentSize: Int? = 64 << 10, inlineLimit: Int? = nil,
                nodeSettings: [String: String] = [:],
                adjust: (_ index: Int, _ configuration: inout NodeConfiguration) -> Void = { _, _ in }) throws {
        precondition((1...64).contains(count) && (1...count).contains(replicas), "bad cluster shape")
        directory = NSTemporaryDirectory() + "edfs-inprocess-" + UUID().uuidString.prefix(8)
        passwords = users.merging(scramUsers) { _, scram in scram }
        try FileManager.default.createDirectory(atPath: directory, withIntermediateDirectories: true,
                                                attributes: [.posixPermissions: 0o700])
        LeftoverFolders.add(directory)
        let names = (1...count).map { "DFS\($0)" }
        let servers = names.enumerated().map { "Server \($1) 127.0.0.1:\(10001 + $0)" }
        var nodeLines = servers
        for (user, password) in users.sorted(by: { $0.key < $1.key }) {
            nodeLines += ["Username: \(user)", "Password: \(Hex.encode(Digest.md5(password)))"]
        }
        for (user, password) in scramUsers.sorted(by: { $0.key < $1.key }) {
            let salt = try SecureRandom.bytes(16)
            let salted = try SCRAM.saltedPassword(password: SecureBytes(copying: Array(password.utf8)), salt: salt,
                                                  iterations: scramIterations)
            let verifier = try SCRAMVerifier(saltedPassword: salted, salt: salt, iterations: scramIterations)
            nodeLines += ["Username: \(user)", "Password: \(verifier.encoded)"]
        }
        // Many tests log in at once on 2 cores: a login deadline with room for that (times `TestTime.scale`), unless
        // the test sets its own.
        var settings = nodeSettings
        if settings["LoginTimeout"] == nil { settings["LoginTimeout"] = TestTime.setting(seconds: 30) }
        nodeLines += settings.sorted(by: { $0.key < $1.key }).map { "\($0.key): \($0.value)" }
        let nodeConfigPath = directory + "/dfs.conf"
        try (nodeLines.joined(separator: "\n") + "\n").write(toFile: nodeConfigPath, atomically: true, encoding: .utf8)

        var clientLines = servers
        if let first = passwords.keys.sorted().first { clientLines.append("Username: \(first)") }
        clientLines.append("Replicas: \(replicas)")
        if let writeQuorum { clientLines.append("WriteQuorum: \(writeQuorum)") }
        if let segmentSize { clientLines.append("SegmentSize: \(segmentSize)") }
        if let inlineLimit { clientLines.append("InlineLimit: \(inlineLimit)") }
        if TestTime.isScaled { clientLines.append("LoginTimeout: \(TestTime.setting(seconds: 30))") }
        let clientConfigPath = directory + "/dfc.conf"
        let clientText = clientLines.joined(separator: "\n") + "\n"
        try clientText.write(toFile: clientConfigPath, atomically: true, encoding: .utf8)
        config = try ClusterConfig(parsing: clientText, path: clientConfigPath)

        let dataRoot = directory + "/data/"
        try FileManager.default.createDirectory(atPath: dataRoot, withIntermediateDirectories: true)
        nodeConfigurations = try names.enumerated().map { index, name in
            var configuration = try NodeConfiguration.load(configFile: nodeConfigPath, name: name,
                                                           dataDirectory: dataRoot + name)
            adjust(index, &configuration)
            return configuration
        }
        var started: [StorageNode?] = []
        do {
            for configuration in nodeConfigurations { started.append(try StorageNode(inProcess: configuration)) }
        } catch {
            for node in started { node?.shutdownDetached() }
            try? FileManager.default.removeItem(atPath: directory)
            throw error
        }
        nodes = PthreadMutex(started)
    }

    /// How many nodes the cluster has.
    public var nodeCount: Int { nodeConfigurations.count }

    /// Node `index`'s data folder (for corruption tests: `users/<user>/objects/<id>` lives below it).
    public func dataDirectory(node index: Int) -> String { nodeConfigurations[index].dataDirectory }

    /// Node `index` while it runs (its store, metadata and scrubber), nil while stopped.
    public func node(_ index: Int) -> StorageNode? { nodes.withLock { $0[index] } }

    /// Whether node `index` runs.
    public func isRunning(node index: Int) -> Bool { node(index) != nil }

    /// A logged-in connection to node `index` over a fresh socket pair (as `user`, with `password` or the
    /// cluster's password for `user`). A stopped node fails with `NodeConnectionError.connectFailed`.
    /// The connect and handshake deadlines of `options` are multiplied by `TestTime.scale`.
    public func connect(node index: Int, user: String, password: String? = nil, derivation: PasswordDerivation? = nil,
                        options: NodeConnection.Options = .init()) async throws -> NodeConnection {
        let name = nodeConfigurations[index].name
        guard let node = node(index) else {
            throw NodeConnectionError.connectFailed(node: name, reason: "the node is stopped")
        }
        let descriptor: Int32
        do {
            descriptor = try await node.openLocalSocket()
        } catch {
            throw NodeConnectionError.connectFailed(node: name, reason: "\(error)")
        }
        let secret = password ?? passwords[user] ?? ""
        let derivation = derivation ?? PasswordDerivation(password: SecureBytes(copying: Array(secret.utf8)))
        return try await NodeConnection.open(localDescriptor: descriptor, label: "\(name) in-process", user: user,
                                             derivation: derivation, options: options.scaledForTests)
    }

    /// A `NodeConnector` (e.g. for `ClusterSession`) that logs every node in as `user` over the in-process seam,
    /// all with one `PasswordDerivation` (given, or made from `password` or the cluster's password for `user`).
    public func connector(user: String, password: String? = nil, derivation: PasswordDerivation? = nil,
                          options: NodeConnection.Options = .init()) -> NodeConnector {
        let secret = password ?? passwords[user] ?? ""
        let shared = derivation ?? PasswordDerivation(password: SecureBytes(copying: Array(secret.utf8)))
        return { [self] index, _ in try await connect(node: index, user: user, derivation: shared, options: options) }
    }

    /// Stops node `index` (its connections close, unfinished uploads are discarded); its data folder stays.
    public func stop(node index: Int) async {
        let node = nodes.withLock { nodes -> StorageNode? in
            defer { nodes[index] = nil }
            return nodes[index]
        }
        await node?.shutdown()
    }

    /// Starts node `index` again on the same data folder (stopping it first if it runs).
    public func restart(node index: Int) async throws {
        await stop(node: index)
        let node = try StorageNode(inProcess: nodeConfigurations[index])
        nodes.withLock { $0[index] = node }
    }

    /// Stops every node and removes the cluster's folder.
    public func shutdown() async {
        for index in 0..<nodeCount { await stop(node: index) }
        try? FileManager.default.removeItem(atPath: directory)
        LeftoverFolders.remove(directory)
    }
}

/// Folders of in-process clusters not shut down yet, removed when the test process exits: a test that ends with
/// `defer { Task { await cluster.shutdown() } }` can exit (a filtered run) before that task runs, which left its
/// folder in the temporary directory.
enum LeftoverFolders {
    private static let folders = PthreadMutex<Set<String>>([])
    private static let sweepAtExit: Void = { atexit { LeftoverFolders.removeAll() } }()

    static func add(_ path: String) {
        _ = sweepAtExit
        folders.withLock { _ = $0.insert(path) }
    }

    static func remove(_ path: String) { folders.withLock { _ = $0.remove(path) } }

    static func removeAll() {
        for path in folders.withLock({ $0 }) { try? FileManager.default.removeItem(atPath: path) }
    }
}

extension StorageNode {
    /// Shuts the node down without waiting (cleanup of a half-built cluster).
    fileprivate func shutdownDetached() {
        Task { await shutdown() }
    }
}
