import EDFSClient
import EDFSCrypto
import EDFSDevTools
import EDFSFormat
import Foundation

/// A real cluster for one test: `edfs node` processes on ephemeral loopback ports, certificates generated into a
/// temporary folder that is removed when the test ends.
public final class TestCluster: @unchecked Sendable {
    // @unchecked Sendable: all state is immutable after init except inside `LocalCluster`, which locks its own.
    public let cluster: LocalCluster
    public let directory: String
    public let user: String
    public let passwordText: String
    public var password: SecureBytes { SecureBytes(copying: Array(passwordText.utf8)) }

    /// Starts `nodes` nodes; the client config says `replicas`, `writeQuorum` and `segmentSize`.
    public init(nodes: Int = 4, replicas: Int = 2, writeQuorum: Int? = nil, segmentSize: Int? = 64 << 10,
                user: String = "tester", password: String = "correct horse battery", start: Bool = true) throws {
        directory = FileManager.default.temporaryDirectory
            .appendingPathComponent("edfs-test-\(UUID().uuidString.prefix(8))").path
        self.user = user
        passwordText = password
        var options = LocalCluster.Options(directory: directory)
        options.nodes = nodes
        options.replicas = replicas
        options.writeQuorum = writeQuorum
        options.segmentSize = segmentSize
        options.user = user
        cluster = try LocalCluster(options: options, executable: EDFSBinary.url(),
                                   password: SecureBytes(copying: Array(password.utf8)))
        if start {
            do { try cluster.start() } catch {
                cluster.stop()
                try? FileManager.default.removeItem(atPath: directory)
                throw error
            }
        }
        // A lower (still accepted) PBKDF2 work factor keeps each test's key derivations fast.
        let config = try String(contentsOfFile: cluster.clientConfigPath, encoding: .utf8)
        try (config + "KDFIterations: 100000\n").write(toFile: cluster.clientConfigPath, atomically: true, encoding: .utf8)
    }

    deinit {
        cluster.stop()
        try? FileManager.default.removeItem(atPath: directory)
    }

    public var clientConfigPath: String { cluster.clientConfigPath }

    public func config() throws -> ClusterConfig { try ClusterConfig.load(path: cluster.clientConfigPath) }

    /// A logged-in session (as the cluster's user unless `password` says otherwise).
    public func session(password: String? = nil, notices: Notices = Notices()) async throws -> ClusterSession {
        let config = try config()
        let secret = SecureBytes(copying: Array((password ?? passwordText).utf8))
        return try await ClusterSession.open(config: config, user: user, password: secret,
                                             connector: NodeConnection.connector(config: config, user: user, password: secret),
                                             kdfIterations: 100_000, notices: notices)
    }

    /// Runs `body` with a fresh session and closes it.
    public func withSession<T>(password: String? = nil, notices: Notices = Notices(),
                               _ body: (ClusterSession) async throws -> T) async throws -> T {
        let session = try await session(password: password, notices: notices)
        do {
            let result = try await body(session)
            await session.close()
            return result
        } catch {
            await session.close()
            throw error
        }
    }

    /// A scratch file path inside the cluster folder.
    public func scratch(_ name: String) -> String { directory + "/" + name }

    /// Writes `bytes` to a new scratch file and returns its path.
    public func writeScratch(_ name: String, _ bytes: [UInt8]) throws -> String {
        let path = scratch(name)
        try Data(bytes).write(to: URL(fileURLWithPath: path))
        return path
    }

    /// Stored object files of a node, by object name.
    public func objectFiles(node: Int) -> [String: String] {
        let root = cluster.dataDirectory(cluster.nodeNames[node]) + "/users/\(user)/objects"
        let names = (try? FileManager.default.contentsOfDirectory(atPath: root)) ?? []
        return Dictionary(uniqueKeysWithValues: names.filter { !$0.hasPrefix(".") }.map { ($0, root + "/" + $0) })
    }

    /// Runs the edfs binary against this cluster's client config with the cluster's password.
    public func run(_ arguments: [String], password: String? = nil) throws -> EDFSBinary.Outcome {
        try EDFSBinary.run(arguments + ["--config", clientConfigPath],
                           environment: ["EDFS_PASSWORD": password ?? passwordText])
    }
}

/// Random test content.
public func randomContent(_ count: Int) throws -> [UInt8] { try SecureRandom.bytes(count) }
