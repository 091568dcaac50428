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

    /// Starts `nodes` nodes; the client config says `replicas`, `writeQuorum`, `segmentSize` and `inlineLimit`. `beforeStart` sees the
    /// prepared cluster (empty data folders, configs, certificates) before its nodes start.
    public init(nodes: Int = 4, replicas: Int = 2, writeQuorum: Int? = nil, segmentSize: Int? = 64 << 10,
                inlineLimit: Int? = nil, user: String = "tester", password: String = "correct horse battery", start: Bool = true,
                beforeStart: (LocalCluster) throws -> Void = { _ in }) throws {
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
        options.nodeSettings["LoginTimeout"] = TestTime.setting(seconds: 30)  // room for many logins at once on 2 cores
        cluster = try LocalCluster(options: options, executable: EDFSBinary.url(),
                                   password: SecureBytes(copying: Array(password.utf8)))
        if start {
            do {
                try beforeStart(cluster)
                try cluster.start()
            } catch {
                cluster.stop()
                try? FileManager.default.removeItem(atPath: directory)
                throw error
            }
        }
        // A lower (still accepted) PBKDF2 work factor keeps each test's key derivations fast; under a sanitizer the
        // client's login deadline is scaled too.
        var config = try String(contentsOfFile: cluster.clientConfigPath, encoding: .utf8) + "KDFIterations: 100000\n"
        if TestTime.isScaled { config += "LoginTimeout: \(TestTime.setting(seconds: 30))\n" }
        if let inlineLimit { config += "InlineLimit: \(inlineLimit)\n" }
        try config.write(toFile: cluster.clientConfigPath, atomically: true, encoding: .utf8)
    }

    /// `TestCluster(…)` for async code: the nodes are started (and waited for until they listen) on a thread of its
    /// own (`offPool`), so no cooperative thread is held meanwhile.
    public static func started(nodes: Int = 4, replicas: Int = 2, writeQuorum: Int? = nil, segmentSize: Int? = 64 << 10,
                               inlineLimit: Int? = nil, user: String = "tester",
                               password: String = "correct horse battery") async throws -> TestCluster {
        try await offPool {
            try TestCluster(nodes: nodes, replicas: replicas, writeQuorum: writeQuorum, segmentSize: segmentSize,
                            inlineLimit: inlineLimit, user: user, password: password)
        }
    }

    deinit {
        cluster.stop()
        try? FileManager.default.removeItem(atPath: directory)
    }

    public var clientConfigPath: String { cluster.clientConfigPath }

    public func config() throws -> ClusterConfig { try ClusterConfig.load(path: cluster.clientConfigPath) }

    /// Runs the edfs binary against this cluster's client config with the cluster's password (in `directory`, when
    /// given; the config path is absolute).
    public func run(_ arguments: [String], password: String? = nil, in directory: String? = nil) async throws
        -> EDFSBinary.Outcome {
        try await EDFSBinary.run(arguments + ["--config", clientConfigPath],
                                 environment: ["EDFS_PASSWORD": password ?? passwordText], directory: directory)
    }
}

/// Random test content.
public func randomContent(_ count: Int) throws -> [UInt8] { try SecureRandom.bytes(count) }
