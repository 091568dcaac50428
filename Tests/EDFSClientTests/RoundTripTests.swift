import EDFSClient
import EDFSDevTools
import EDFSFormat
import EDFSTestSupport
import Foundation
import Testing

/// Put then get for every interesting size, in process (and once over TLS to node processes).
@Suite("Client round trips", .serialized)
struct RoundTripTests {
    static let segment = 64 << 10

    /// 0, 1, S−1, S, S+1, 5 MiB + 3, and more than 8 segments in every stripe.
    static func sizes(nodes: Int) -> [Int] {
        [0, 1, segment - 1, segment, segment + 1, (5 << 20) + 3, nodes * 9 * segment + 5]
    }

    @Test("N=4 R=2, N=4 R=3 and N=5 R=2: every size comes back byte-exact (N=4 R=2 also over TLS to node processes)",
          arguments: [(4, 2, ClusterKind.live), (4, 2, .inProcess), (4, 3, .inProcess), (5, 2, .inProcess)])
    func roundTrips(nodes: Int, replicas: Int, kind: ClusterKind) async throws {
        try await withCluster(kind, nodes: nodes, replicas: replicas, segmentSize: Self.segment) { cluster in
            try await cluster.withSession { session in
                var originals = [String: [UInt8]]()
                for size in Self.sizes(nodes: nodes) {
                    let content = try randomContent(size)
                    let name = "file-\(size).bin"
                    let result = try await PutOperation(session).run(file: cluster.writeScratch(name, content), as: name)
                    #expect(result.size == UInt64(size))
                    #expect(result.missingReplicas.isEmpty)
                    originals[name] = content
                }
                for (name, content) in originals {
                    let out = cluster.scratch("out-" + name)
                    try await GetOperation(session).run(name: name, to: .file(out))
                    #expect(try Array(Data(contentsOf: URL(fileURLWithPath: out))) == content, "\(name) differs")
                }
                let listing = try await ListOperation(session).run()
                #expect(Set(listing.map(\.name)) == Set(originals.keys))
                #expect(listing.allSatisfy { $0.health == "healthy" })
                // Every stripe object sits on exactly R nodes.
                var copies = [String: Int]()
                for node in 0..<nodes { for name in cluster.objectFiles(node: node).keys { copies[name, default: 0] += 1 } }
                // A file of at most InlineLimit (4 KiB) is inline (no objects); of at most one segment one stripe
                // (k = 1); a larger one N.
                let inline = ClusterConfig.defaultInlineLimit
                #expect(copies.count == Self.sizes(nodes: nodes).reduce(0) {
                    $0 + ($1 <= inline ? 0 : $1 <= Self.segment ? 1 : nodes)
                })
                #expect(copies.values.allSatisfy { $0 == replicas })
            }
        }
    }

    @Test("a new version replaces the old one, whose objects are removed")
    func newVersion() async throws {
        try await withCluster(.inProcess) { cluster in
            try await cluster.withSession { session in
                let first = try randomContent(200_000)
                let second = try randomContent(70_001)
                _ = try await PutOperation(session).run(file: cluster.writeScratch("a", first), as: "doc")
                let before = Set((0..<4).flatMap { cluster.objectFiles(node: $0).keys })
                let result = try await PutOperation(session).run(file: cluster.writeScratch("b", second), as: "doc")
                #expect(result.version == 2)
                let after = Set((0..<4).flatMap { cluster.objectFiles(node: $0).keys })
                #expect(before.isDisjoint(with: after), "the first version's objects must be gone")
                let out = cluster.scratch("out")
                try await GetOperation(session).run(name: "doc", to: .file(out))
                #expect(try Array(Data(contentsOf: URL(fileURLWithPath: out))) == second)
                #expect(try await ListOperation(session).run().map(\.version) == [2])
            }
        }
    }

    @Test("names with spaces and unicode are stored as given and never reach node paths or bytes; ../, absolute and control-character names are refused")
    func hostileNames() async throws {
        try await withCluster(.inProcess) { cluster in
            let marker = "PLAINTEXT-MARKER-\(UUID().uuidString)"
            let names = ["with space.txt", "ünïcødé/日本語.txt", "a b/c d/e f.txt"]
            try await cluster.withSession { session in
                for refused in ["../../etc/passwd", "a/../../b", "/absolute/name", "a//b", "trailing/", "./x",
                                "evil\nname", "esc\u{1b}[31m", ""] {
                    await #expect(throws: ClientError.self, "\(refused)") {
                        _ = try await PutOperation(session).run(file: cluster.writeScratch("src", [1]), as: refused)
                    }
                }
                #expect(try await ListOperation(session).run().isEmpty, "a refused name stores nothing")
                for name in names {
                    let content = Array((marker + " " + name + String(repeating: "x", count: 5000)).utf8)
                    _ = try await PutOperation(session).run(file: cluster.writeScratch("src", content), as: name)
                }
                #expect(try await ListOperation(session).run().filter { !$0.isFolder }.map(\.name).sorted() == names.sorted())
                for name in names {
                    let out = cluster.scratch("out")
                    try await GetOperation(session).run(name: name, to: .file(out))
                    #expect(String(decoding: try Data(contentsOf: URL(fileURLWithPath: out)), as: UTF8.self).hasPrefix(marker))
                }
            }
            #expect(try !Demo.dataContains(roots: (0..<cluster.nodeCount).map { cluster.dataDirectory(node: $0) }, needles: [marker, "passwd", "日本語", "with space"]))
            #expect(!FileManager.default.fileExists(atPath: cluster.directory + "/etc"))
        }
    }

    @Test("rm removes manifests and objects everywhere; the name is then unknown")
    func remove() async throws {
        try await withCluster(.inProcess) { cluster in
            try await cluster.withSession { session in
                _ = try await PutOperation(session).run(file: cluster.writeScratch("x", try randomContent(10_000)), as: "gone")
                try await RemoveOperation(session).run(name: "gone")
                let listing = try await ListOperation(session).run()
                #expect(listing.isEmpty)
                #expect((0..<4).allSatisfy { cluster.objectFiles(node: $0).isEmpty })
                await #expect(throws: ClientError.self) { try await GetOperation(session).run(name: "gone", to: .file(cluster.scratch("o"))) }
                await #expect(throws: ClientError.self) { try await RemoveOperation(session).run(name: "gone") }
            }
        }
    }
}
