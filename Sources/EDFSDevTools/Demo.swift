import EDFSCrypto
import EDFSClient
import EDFSFormat
import Foundation

/// `edfs demo`: a temporary 4-node cluster on loopback, a put, `ls`, a byte-exact get, one node stopped, the get
/// again, and a look at what the nodes actually hold — narrated in a few lines, then everything removed.
public enum Demo {
    /// Runs the demo with node processes started from `executable`; `say` receives each line of narration.
    public static func run(executable: URL, fileSize: Int = 8 << 20, say: @escaping @Sendable (String) -> Void) async throws {
        let directory = FileManager.default.temporaryDirectory.appendingPathComponent("edfs-demo-\(UUID().uuidString)").path
        defer { try? FileManager.default.removeItem(atPath: directory) }
        let password = try SecureBytes(copying: Array(Hex.encode(SecureRandom.bytes(12)).utf8))
        var options = LocalCluster.Options(directory: directory)
        options.nodes = 4
        options.replicas = 2
        let cluster = try LocalCluster(options: options, executable: executable, password: password)
        defer { cluster.stop() }
        try cluster.start()
        let ports = (0..<options.nodes).map { "\(cluster.nodeNames[$0])@\(cluster.port($0))" }.joined(separator: " ")
        say("1. started \(options.nodes) storage nodes on 127.0.0.1 over TLS 1.3 (\(ports)), replicas R = 2")

        let marker = "edfs-demo-plaintext-marker-\(UUID().uuidString)"
        let source = directory + "/holiday photos.bin"
        try makeFile(path: source, size: fileSize, marker: marker)
        let config = try ClusterConfig.load(path: cluster.clientConfigPath)
        let notices = Notices()
        let session = try await ClusterSession.open(
            config: config, user: options.user, password: password,
            connector: NodeConnection.connector(config: config, user: options.user, password: password), notices: notices)
        let start = Date()
        let stored = try await PutOperation(session).run(file: source, as: "holiday photos.bin")
        let seconds = Date().timeIntervalSince(start)
        say("2. put \"\(stored.name)\": \(ByteCount.humanReadable(Int(stored.size))) cut into 4 stripes, each sealed with "
            + "AES-256-GCM on all cores and sent to 2 nodes (\(rate(stored.size, seconds)))")
        for file in try await ListOperation(session).run() {
            say("3. ls: \(file.name)  \(ByteCount.humanReadable(Int(file.size)))  \(file.health)")
        }
        let copy = directory + "/copy.bin"
        try await GetOperation(session).run(name: stored.name, to: .file(copy))
        say("4. get: \(try sameBytes(source, copy) ? "byte-exact" : "MISMATCH") (every GCM tag verified)")
        await session.close()

        cluster.stopNode(1)
        say("5. stopped node \(cluster.nodeNames[1])")
        let degraded = try await ClusterSession.open(
            config: config, user: options.user, password: password,
            connector: NodeConnection.connector(config: config, user: options.user, password: password), notices: Notices())
        let again = directory + "/copy-degraded.bin"
        try await GetOperation(degraded).run(name: stored.name, to: .file(again))
        let health = try await ListOperation(degraded).run().first?.health ?? "?"
        await degraded.close()
        say("6. get with \(cluster.nodeNames[1]) down: \(try sameBytes(source, again) ? "byte-exact" : "MISMATCH") "
            + "(ls now says: \(health))")

        let leaked = try nodeDataContains(cluster: cluster, needles: [marker, "holiday photos"])
        say("7. node data searched for the file's text and its name: \(leaked ? "FOUND (bug!)" : "neither appears; nodes hold ciphertext and ids only")")
        cluster.stop()
        say("8. stopped the cluster and removed \(directory)")
        if leaked { throw ClientError.integrity("plaintext or a file name was found in node data") }
    }

    private static func rate(_ bytes: UInt64, _ seconds: Double) -> String {
        seconds > 0 ? "\(ByteCount.humanReadable(Int(Double(bytes) / seconds)))/s" : "instant"
    }

    /// Random bytes with a text marker every MiB, so a leak of plaintext would be visible to a grep.
    static func makeFile(path: String, size: Int, marker: String) throws {
        var bytes = try SecureRandom.bytes(size)
        let text = Array(marker.utf8)
        var offset = 0
        while offset + text.count <= size {
            bytes.replaceSubrange(offset..<(offset + text.count), with: text)
            offset += 1 << 20
        }
        guard FileManager.default.createFile(atPath: path, contents: Data(bytes)) else {
            throw ClientError.localIO("cannot write \(path)")
        }
    }

    static func sameBytes(_ a: String, _ b: String) throws -> Bool {
        try Data(contentsOf: URL(fileURLWithPath: a)) == Data(contentsOf: URL(fileURLWithPath: b))
    }

    /// True when any file under any node's data folder contains one of `needles`.
    public static func nodeDataContains(cluster: LocalCluster, needles: [String]) throws -> Bool {
        try dataContains(roots: cluster.nodeNames.map(cluster.dataDirectory), needles: needles)
    }

    /// True when any file below `roots` has one of `needles` in its name or its bytes.
    public static func dataContains(roots: [String], needles: [String]) throws -> Bool {
        let patterns = needles.map { Data($0.utf8) }
        for root in roots {
            guard let walker = FileManager.default.enumerator(atPath: root) else { continue }
            for case let relative as String in walker {
                if patterns.contains(where: { relative.contains(String(decoding: $0, as: UTF8.self)) }) { return true }
                let path = root + "/" + relative
                var isDirectory: ObjCBool = false
                guard FileManager.default.fileExists(atPath: path, isDirectory: &isDirectory), !isDirectory.boolValue else { continue }
                let data = try Data(contentsOf: URL(fileURLWithPath: path))
                if patterns.contains(where: { data.range(of: $0) != nil }) { return true }
            }
        }
        return false
    }
}
