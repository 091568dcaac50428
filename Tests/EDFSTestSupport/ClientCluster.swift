import EDFSClient
import EDFSCrypto
import EDFSFormat
import EDFSNode
import Foundation

/// Where a client test's nodes run.
public enum ClusterKind: String, Sendable, CaseIterable, CustomStringConvertible {
    /// Real `StorageNode`s inside the test process, reached over socket pairs (`InProcessCluster`): no ports, TLS or
    /// processes. Most client tests run here.
    case inProcess
    /// Real `edfs node` processes over TLS on loopback (`TestCluster`): for what needs a process or the real transport.
    case live

    public var description: String { rawValue }
}

/// A cluster a client test runs against, whichever kind it is: the same test body works on both.
public protocol ClientCluster: AnyObject, Sendable {
    var kind: ClusterKind { get }
    /// The user whose password the nodes know.
    var user: String { get }
    var passwordText: String { get }
    /// The cluster's folder: configs, data folders and the test's scratch files; removed by `shutdown()`.
    var directory: String { get }
    var nodeCount: Int { get }
    /// Node names in config order (DFS1, DFS2, …).
    var nodeNames: [String] { get }
    /// The client config.
    func clientConfig() throws -> ClusterConfig
    /// Logs in to a node as `user` with the password `derivation` holds.
    func connector(user: String, derivation: PasswordDerivation) throws -> NodeConnector
    /// Node `index`'s data folder.
    func dataDirectory(node index: Int) -> String
    /// Stops node `index` (`kill`: abruptly, where the kind can; an in-process node always shuts down).
    func stopNode(_ index: Int, kill: Bool) async
    /// Starts node `index` again on its data folder.
    func startNode(_ index: Int) async throws
    /// Stops every node and removes the folder.
    func shutdown() async
}

extension ClientCluster {
    public var password: SecureBytes { SecureBytes(copying: Array(passwordText.utf8)) }

    public func stopNode(_ index: Int) async { await stopNode(index, kill: false) }

    /// A logged-in session (as the cluster's user unless `password` says otherwise), at a low PBKDF2 work factor.
    public func session(password: String? = nil, notices: Notices = Notices()) async throws -> ClusterSession {
        let derivation = PasswordDerivation(password: SecureBytes(copying: Array((password ?? passwordText).utf8)))
        return try await ClusterSession.open(config: clientConfig(), user: user, derivation: derivation,
                                             connector: connector(user: user, derivation: derivation),
                                             kdfIterations: 100_000, notices: notices)
    }

    /// Runs `body` with a fresh session and closes it.
    public func withSession<T>(password: String? = nil, notices: Notices = Notices(),
                               _ body: (ClusterSession) async throws -> T) async throws -> T {
        try await session(password: password, notices: notices).closing(body)
    }

    /// A scratch file path inside the cluster folder.
    public func scratch(_ name: String) -> String { directory + "/" + name }

    /// Writes `bytes` to a new scratch file and returns its path.
    public func writeScratch(_ name: String, _ bytes: [UInt8]) throws -> String {
        let path = scratch(name)
        try Data(bytes).write(to: URL(fileURLWithPath: path))
        return path
    }

    /// The user's folder on node `index`.
    public func userDirectory(node index: Int) -> String { dataDirectory(node: index) + "/users/\(user)" }

    /// The nodes holding each stored object, by object name.
    public func objectHolders() -> [String: [Int]] {
        var result = [String: [Int]]()
        for node in 0..<nodeCount {
            for name in objectFiles(node: node).keys { result[name, default: []].append(node) }
        }
        return result
    }

    /// Stored object files of a node, by object name.
    public func objectFiles(node index: Int) -> [String: String] {
        let root = userDirectory(node: index) + "/objects"
        let names = (try? FileManager.default.contentsOfDirectory(atPath: root)) ?? []
        return Dictionary(uniqueKeysWithValues: names.filter { !$0.hasPrefix(".") }.map { ($0, root + "/" + $0) })
    }
}

/// Runs `body` against a new cluster of `kind` and removes the cluster afterwards, whatever happens. `inlineLimit`
/// sets the client's `InlineLimit` (nil: the default, 4 KiB; 0: every file in stripe objects).
public func withCluster<T>(_ kind: ClusterKind, nodes: Int = 4, replicas: Int = 2, writeQuorum: Int? = nil,
                           segmentSize: Int? = 64 << 10, inlineLimit: Int? = nil, user: String = "tester",
                           password: String = "correct horse battery",
                           _ body: (any ClientCluster) async throws -> T) async throws -> T {
    let cluster: any ClientCluster
    switch kind {
    case .inProcess:
        cluster = try InProcessCluster(nodes: nodes, users: [user: password], replicas: replicas,
                                       writeQuorum: writeQuorum, segmentSize: segmentSize, inlineLimit: inlineLimit)
    case .live:
        cluster = try await TestCluster.started(nodes: nodes, replicas: replicas, writeQuorum: writeQuorum,
                                                segmentSize: segmentSize, inlineLimit: inlineLimit, user: user,
                                                password: password)
    }
    do {
        let result = try await body(cluster)
        await cluster.shutdown()
        return result
    } catch {
        await cluster.shutdown()
        throw error
    }
}

extension InProcessCluster: ClientCluster {
    public var kind: ClusterKind { .inProcess }
    public var user: String { passwords.keys.sorted().first ?? "" }
    public var passwordText: String { passwords[user] ?? "" }
    public var nodeNames: [String] { nodeConfigurations.map(\.name) }
    public func clientConfig() throws -> ClusterConfig { config }
    public func connector(user: String, derivation: PasswordDerivation) throws -> NodeConnector {
        connector(user: user, password: nil, derivation: derivation)
    }
    public func stopNode(_ index: Int, kill: Bool) async { await stop(node: index) }
    public func startNode(_ index: Int) async throws { try await restart(node: index) }
}

extension TestCluster: ClientCluster {
    public var kind: ClusterKind { .live }
    public var nodeCount: Int { cluster.options.nodes }
    public var nodeNames: [String] { cluster.nodeNames }
    public func clientConfig() throws -> ClusterConfig { try config() }
    public func connector(user: String, derivation: PasswordDerivation) throws -> NodeConnector {
        NodeConnection.connector(config: try config(), user: user, derivation: derivation, options: .forTests)
    }
    public func dataDirectory(node index: Int) -> String { cluster.dataDirectory(cluster.nodeNames[index]) }
    // A node process is started and stopped (waited for) on a thread of its own (`offPool`), not a cooperative one.
    public func stopNode(_ index: Int, kill: Bool) async {
        let cluster = cluster
        await offPool { cluster.stopNode(index, kill: kill) }
    }
    public func startNode(_ index: Int) async throws {
        let cluster = cluster
        try await offPool { try cluster.startNode(index) }
    }
    public func shutdown() async {
        let cluster = cluster, directory = directory
        await offPool {
            cluster.stop()
            try? FileManager.default.removeItem(atPath: directory)
        }
    }
}
