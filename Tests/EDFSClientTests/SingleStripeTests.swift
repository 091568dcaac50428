import EDFSClient
import EDFSFormat
import EDFSTestSupport
import Foundation
import Testing

/// A file no larger than one segment is stored as one stripe (k = 1, stripe 0 of its row, on R nodes; manifest body
/// version 4); a larger one as N stripes, as before. Every reader takes k from the manifest: these fail if any of
/// them iterated over the node count instead. These clusters set `InlineLimit: 0`, so the small sizes are objects too;
/// inline files (at most 4 KiB by default, in the manifest) are InlineFileTests'.
@Suite("Single-stripe small files", .serialized)
struct SingleStripeTests {
    static let segment = 64 << 10
    /// 0, 1, 4 KiB and the threshold (one segment) are single-stripe; one byte more is N stripes.
    static let sizes = [0, 1, 4096, segment, segment + 1]

    static func expectedStripes(_ size: Int, nodes: Int) -> Int { size <= segment ? 1 : nodes }

    /// Stores one file of every size as "s-SIZE"; returns name → content.
    private func storeSizes(_ cluster: any ClientCluster) async throws -> [String: [UInt8]] {
        var files = [String: [UInt8]]()
        try await cluster.withSession { session in
            for size in Self.sizes {
                let content = try randomContent(size)
                let name = "s-\(size)"
                _ = try await PutOperation(session).run(file: cluster.writeScratch("src-\(size)", content), as: name)
                files[name] = content
            }
        }
        return files
    }

    private func record(_ cluster: any ClientCluster, _ name: String) async throws -> ManifestRecord {
        try await cluster.withSession { session in try #require(try await ManifestReader(session).lookUp(path: name).live) }
    }

    @Test("put/get byte-exact for 0, 1, 4096, S and S+1 bytes; k = 1 up to S, on exactly the R nodes of stripe 0 of row h",
          arguments: [(ClusterKind.inProcess, 2), (.live, 2), (.inProcess, 3)])
    func layoutAndRoundTrip(kind: ClusterKind, replicas: Int) async throws {
        try await withCluster(kind, nodes: 4, replicas: replicas, segmentSize: Self.segment, inlineLimit: 0) { cluster in
            let files = try await storeSizes(cluster)
            #expect(try await cluster.mismatchedFiles(files).isEmpty)
            let stored = cluster.objectHolders()
            var expectedObjects = 0
            for size in Self.sizes {
                let record = try await record(cluster, "s-\(size)")
                let k = Self.expectedStripes(size, nodes: 4)
                expectedObjects += k
                #expect(record.stripeCount == k && record.body.stripeLengths.count == k, "size \(size)")
                #expect(record.body.nodeCount == 4 && Int(record.body.replicas) == replicas)
                let placement = try Placement(nodeCount: 4, replicas: replicas)
                let row = placement.row(for: record.header.fileID)
                for stripe in 0..<k {
                    let header = try record.stripeHeader(stripe)
                    #expect(header.stripeCount == UInt32(k))
                    let nodes = try placement.nodes(stripe: stripe, row: row)
                    #expect(stored[header.objectName]?.sorted() == nodes.sorted(), "size \(size) stripe \(stripe)")
                    // The stored object's own header says k.
                    let path = try #require(cluster.objectFiles(node: nodes[0])[header.objectName])
                    let bytes = try Array(Data(contentsOf: URL(fileURLWithPath: path)).prefix(StripeHeader.byteCount))
                    #expect(try StripeHeader.decode(prefixOf: bytes).stripeCount == UInt32(k))
                }
            }
            #expect(stored.count == expectedObjects, "no stray stripes 1…N−1 of a small file")
            #expect(stored.values.allSatisfy { $0.count == replicas })
        }
    }

    @Test("get with each of the R holders of a single-stripe file down in turn; a ranged read (mount) too")
    func holderDown() async throws {
        try await withCluster(.inProcess, nodes: 4, replicas: 2, segmentSize: Self.segment, inlineLimit: 0) { cluster in
            let content = try randomContent(4096)
            try await cluster.withSession { session in
                _ = try await PutOperation(session).run(file: cluster.writeScratch("src", content), as: "small")
            }
            let record = try await record(cluster, "small")
            let holders = try record.nodes(ofStripe: 0)
            #expect(holders.count == 2)
            for node in holders {
                await cluster.stopNode(node)
                #expect(try await cluster.mismatchedFiles(["small": content]).isEmpty, "\(cluster.nodeNames[node]) down")
                let session = try await cluster.session()
                let reader = try RandomAccessRead(session: session, record: record, cache: SegmentCache())
                #expect(try await reader.read(at: 100, count: 1000) == Array(content[100..<1100]))
                #expect(try await reader.read(at: 4000, count: 1000) == Array(content[4000..<4096]))
                await session.close()
                try await cluster.startNode(node)
            }
            // Both holders down: the file is unavailable, not silently empty.
            for node in holders { await cluster.stopNode(node) }
            await #expect(throws: ClientError.self) {
                try await cluster.withSession { session in
                    try await GetOperation(session).run(name: "small", to: .file(cluster.scratch("none")))
                }
            }
            #expect(!FileManager.default.fileExists(atPath: cluster.scratch("none")))
        }
    }

    @Test("check: healthy, then degraded when a holder's data folder is wiped; repair makes it healthy; rm removes it")
    func checkRepairRemove() async throws {
        try await withCluster(.inProcess, nodes: 4, replicas: 2, segmentSize: Self.segment, inlineLimit: 0) { cluster in
            let files = try await storeSizes(cluster)
            let clean = try await cluster.withSession { try await CheckOperation($0).run(readData: true) }
            #expect(clean.files.allSatisfy { $0.health == .healthy }, "\(clean.files.map(\.problems))")
            for size in Self.sizes {
                let file = try #require(clean.files.first { $0.name == "s-\(size)" })
                #expect(file.stripes.count == Self.expectedStripes(size, nodes: 4), "size \(size)")
            }
            #expect(clean.orphanObjects == 0)
            let listed = try await cluster.withSession { try await ListOperation($0).run() }
            #expect(listed.allSatisfy { $0.health == "healthy" }, "\(listed.map(\.health))")

            let small = try await record(cluster, "s-4096")
            let wiped = try small.nodes(ofStripe: 0)[0]
            await cluster.stopNode(wiped)
            try FileManager.default.removeItem(atPath: cluster.dataDirectory(node: wiped))
            try await cluster.startNode(wiped)
            let degraded = try await cluster.withSession { try await CheckOperation($0).run() }
            let smallCheck = try #require(degraded.files.first { $0.name == "s-4096" })
            #expect(smallCheck.health == .degraded)
            #expect(smallCheck.stripes.first?.replicas.first { $0.node == cluster.nodeNames[wiped] }?.state == .missing)
            let listedDegraded = try await cluster.withSession { try await ListOperation($0).run() }
            #expect(listedDegraded.first { $0.name == "s-4096" }?.health.hasPrefix("degraded: stripe 0 has 1 of 2") == true)

            let repair = try await cluster.withSession { try await RepairOperation($0).run() }
            #expect(repair.worst == .healthy, "\(repair.files)")
            let after = try await cluster.withSession { try await CheckOperation($0).run(readData: true) }
            #expect(after.files.allSatisfy { $0.health == .healthy }, "\(after.files.map(\.problems))")
            // The repaired copy serves alone.
            let other = try small.nodes(ofStripe: 0)[1]
            await cluster.stopNode(other)
            #expect(try await cluster.mismatchedFiles(files).isEmpty, "with \(cluster.nodeNames[other]) down after repair")
            try await cluster.startNode(other)

            try await cluster.withSession { session in
                for name in files.keys { try await RemoveOperation(session).run(name: name) }
            }
            #expect(cluster.objectHolders().isEmpty, "every object of every removed file is gone")
        }
    }

    @Test("mv keeps a single-stripe file readable under its new name; rotate --reencrypt keeps each file's layout")
    func moveAndReencrypt() async throws {
        try await withCluster(.inProcess, nodes: 4, replicas: 2, segmentSize: Self.segment, inlineLimit: 0) { cluster in
            var files = try await storeSizes(cluster)
            try await cluster.withSession { session in
                _ = try await MoveOperation(session).run(from: "s-4096", to: "moved/small")
            }
            files["moved/small"] = files.removeValue(forKey: "s-4096")
            #expect(try await cluster.mismatchedFiles(files).isEmpty)
            let moved = try await record(cluster, "moved/small")
            #expect(moved.stripeCount == 1 && moved.body.sharesObjects)
            let objectsBefore = cluster.objectHolders()

            let report = try await cluster.withSession { try await KeyRotation($0).run(reencrypt: true) }
            #expect(report.reencrypted == files.count)
            // The renamed version's old object may still be named by the old name's manifest (a rename marks both
            // "shares objects"), so it is left to the nodes' orphan collection; every other old object is gone.
            let shared = moved.header.fileID.hex
            let objectsAfter = cluster.objectHolders().filter { !$0.key.hasPrefix(shared) }
            #expect(Set(objectsBefore.keys).isDisjoint(with: Set(objectsAfter.keys)), "every object re-encrypted")
            #expect(objectsAfter.count == objectsBefore.count, "the same layout: one object per small file, N per large")
            #expect(try await cluster.mismatchedFiles(files).isEmpty)
            for (name, content) in files {
                let record = try await record(cluster, name)
                #expect(record.stripeCount == Self.expectedStripes(content.count, nodes: 4), "\(name)")
                #expect(record.header.keyEpoch == 2)
            }
        }
    }

    @Test("a node serving an altered single-stripe object or manifest is refused: get reads the other replica (and heals it), or fails whole")
    func lyingNode() async throws {
        try await withCluster(.inProcess, nodes: 4, replicas: 2, segmentSize: Self.segment, inlineLimit: 0) { cluster in
            let content = try randomContent(4096)
            let other = try randomContent(4096)
            try await cluster.withSession { session in
                _ = try await PutOperation(session).run(file: cluster.writeScratch("a", content), as: "a")
                _ = try await PutOperation(session).run(file: cluster.writeScratch("b", other), as: "b")
            }
            let a = try await record(cluster, "a")
            let b = try await record(cluster, "b")
            let object = try a.stripeHeader(0).objectName
            let (primary, secondary) = (try a.nodes(ofStripe: 0)[0], try a.nodes(ofStripe: 0)[1])
            let primaryPath = try #require(cluster.objectFiles(node: primary)[object])
            let original = try Data(contentsOf: URL(fileURLWithPath: primaryPath))
            // 1. One ciphertext byte altered on the primary: the client reads the secondary, and says so.
            try DiskDamage.flipByte(primaryPath, at: UInt64(StripeHeader.byteCount + 100))
            let notices = Notices()
            #expect(try await cluster.withSession(notices: notices) { session in
                try await GetOperation(session).run(name: "a", to: .file(cluster.scratch("o1")), heal: false)
                return try Array(Data(contentsOf: URL(fileURLWithPath: cluster.scratch("o1"))))
            } == content)
            #expect(notices.all.contains { $0.contains("stripe 0") && $0.contains("failed") }, "\(notices.all)")
            // Heal on read replaces the bad replica of the one stripe.
            _ = try await cluster.withSession { session in
                try await GetOperation(session).run(name: "a", to: .file(cluster.scratch("healed")))
            }
            let healed = try await cluster.withSession { try await CheckOperation($0).run(names: ["a"], readData: true) }
            #expect(healed.files.first?.health == .healthy, "\(healed.files.map(\.problems))")
            // 2. Another file's valid single-stripe object (a different file id and key) in its place on both holders:
            //    nothing verifies, so the get fails and writes nothing.
            let bObject = try b.stripeHeader(0).objectName
            let bPath = try #require(try b.nodes(ofStripe: 0).lazy.compactMap { cluster.objectFiles(node: $0)[bObject] }.first)
            let bBytes = try Data(contentsOf: URL(fileURLWithPath: bPath))
            for node in [primary, secondary] {
                try bBytes.write(to: URL(fileURLWithPath: try #require(cluster.objectFiles(node: node)[object])))
            }
            await #expect(throws: ClientError.self) {
                try await cluster.withSession { session in
                    try await GetOperation(session).run(name: "a", to: .file(cluster.scratch("o2")), heal: false)
                }
            }
            #expect(!FileManager.default.fileExists(atPath: cluster.scratch("o2")), "no partial output")
            // Put the good object back on the primary.
            try original.write(to: URL(fileURLWithPath: primaryPath))
            // 3. A manifest copy with its sealed body altered on one node: ignored, the get still reads the file.
            let root = cluster.dataDirectory(node: secondary) + "/users/\(cluster.user)/manifests"
            for name in try FileManager.default.contentsOfDirectory(atPath: root) where !name.hasPrefix(".") {
                try DiskDamage.flipByte(root + "/" + name, at: UInt64(ManifestHeader.byteCount + 20))
            }
            #expect(try await cluster.withSession { session in
                try await GetOperation(session).run(name: "a", to: .file(cluster.scratch("o3")), heal: false)
                return try Array(Data(contentsOf: URL(fileURLWithPath: cluster.scratch("o3"))))
            } == content)
        }
    }
}
