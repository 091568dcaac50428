@testable import EDFSClient
import EDFSCrypto
import EDFSFormat
import EDFSTestSupport
import Foundation
import Testing

/// A file of at most `InlineLimit` bytes (default 4 KiB) and one segment is stored inside its manifest (body version 5,
/// docs/FORMAT.md §3): no stripe objects, the manifest's replication and authentication. Every reader takes its bytes
/// from the manifest; these fail if one looked for objects, or trusted a node's copy without opening it.
@Suite("Inline small files")
struct InlineFileTests {
    private func live(_ session: ClusterSession, _ name: String) async throws -> ManifestRecord {
        try #require(try await ManifestReader(session).lookUp(path: name).live, "\(name) is stored")
    }

    /// A get of `name` fails with an integrity error (exit 65) whose message holds every one of `phrases`, and writes
    /// no output file.
    private func expectIntegrityError(_ cluster: InProcessCluster, getting name: String,
                                      mentioning phrases: [String]) async throws {
        let out = cluster.scratch("out-" + name)
        await #expect(throws: ClientError.integrity("")) {
            do {
                try await cluster.withSession { session in try await GetOperation(session).run(name: name, to: .file(out)) }
            } catch let ClientError.integrity(message) {
                #expect(phrases.allSatisfy(message.contains), "\(message)")
                throw ClientError.integrity("")
            }
        }
        #expect(!FileManager.default.fileExists(atPath: out))
    }

    /// Puts each of `files` (name → content) in one session.
    private func store(_ files: KeyValuePairs<String, [UInt8]>, in cluster: any ClientCluster) async throws {
        try await cluster.withSession { session in
            for (name, content) in files {
                _ = try await PutOperation(session).run(file: cluster.writeScratch("src", content), as: name)
            }
        }
    }

    /// Object names of `fileID` on any node.
    private func objects(of fileID: FileID, _ cluster: any ClientCluster) -> [String] {
        cluster.objectHolders().keys.filter { $0.hasPrefix(fileID.hex) }
    }

    @Test("0, 1 and 4096 bytes are inline (no objects, on every node), 4097 one stripe; get, ls and ranged reads are byte-exact",
          arguments: [ClusterKind.inProcess, .live])
    func layout(kind: ClusterKind) async throws {
        try await withCluster(kind, nodes: 4, replicas: 2) { cluster in
            var files = [String: [UInt8]]()
            for size in [0, 1, 4096, 4097] {
                files["f-\(size)"] = try randomContent(size)
            }
            try await cluster.withSession { session in
                for (name, content) in files {
                    let result = try await PutOperation(session).run(file: cluster.writeScratch(name, content), as: name)
                    #expect(result.missingReplicas.isEmpty && result.manifestNodes == [0, 1, 2, 3])
                }
            }
            #expect(try await cluster.mismatchedFiles(files).isEmpty)
            try await cluster.withSession { session in
                for (name, content) in files {
                    let record = try await live(session, name)
                    if content.count <= 4096 {
                        #expect(record.body.inlineData?.withUnsafeBytes { Array($0) } == content, "\(name)")
                        #expect(!record.body.hasObjects && record.stripeCount == 1 && record.holders == [0, 1, 2, 3])
                        #expect(objects(of: record.header.fileID, cluster).isEmpty, "\(name): no objects")
                        // A mount's ranged reads come from the manifest too.
                        let reader = try RandomAccessRead(session: session, record: record, cache: SegmentCache())
                        #expect(try await reader.read(at: 0, count: 10_000) == content)
                        if content.count > 100 {
                            #expect(try await reader.read(at: 100, count: 50) == Array(content[100..<150]))
                        }
                        #expect(try await reader.read(at: UInt64(content.count), count: 10).isEmpty)
                        #expect(reader.fetchCounts.requests == 0)
                    } else {
                        #expect(record.body.inlineData == nil && record.body.hasObjects && record.stripeCount == 1)
                        #expect(objects(of: record.header.fileID, cluster).count == 1)
                    }
                }
                let listing = try await ListOperation(session).run()
                #expect(listing.count == 4 && listing.allSatisfy { $0.health == "healthy" }, "\(listing.map(\.health))")
                #expect(Set(listing.map(\.size)) == [0, 1, 4096, 4097])
            }
            // Standard output gets the bytes too.
            let out = try await cluster.withSession { session in
                try await GetOperation(session).run(name: "f-4096", to: .file(cluster.scratch("again")))
                return try Array(Data(contentsOf: URL(fileURLWithPath: cluster.scratch("again"))))
            }
            #expect(out == files["f-4096"])
        }
    }

    @Test("InlineLimit bounds what is inline, and so does one segment; 0 turns it off",
          arguments: [(65536, 65536, 65536, true), (65536, 65536, 65537, false), (65536, 16384, 16385, false),
                      (65536, 16384, 16384, true), (0, 65536, 0, false), (100, 65536, 101, false)])
    func limits(inlineLimit: Int, segment: Int, size: Int, inline: Bool) async throws {
        try await withCluster(.inProcess, nodes: 4, replicas: 2, segmentSize: segment, inlineLimit: inlineLimit) { cluster in
            let content = try randomContent(size)
            try await cluster.withSession { session in
                _ = try await PutOperation(session).run(file: cluster.writeScratch("src", content), as: "f")
                let record = try await live(session, "f")
                #expect((record.body.inlineData != nil) == inline)
                #expect(objects(of: record.header.fileID, cluster).isEmpty == inline)
            }
            #expect(try await cluster.mismatchedFiles(["f": content]).isEmpty)
        }
    }

    @Test("R−1 nodes down, a lying node's altered copy at a higher version, a node that lost its copy: the file reads; check and repair see the manifest copies")
    func failures() async throws {
        let cluster = try InProcessCluster(nodes: 4, replicas: 2)
        defer { Task { await cluster.shutdown() } }
        let content = try randomContent(3000)
        try await store(["f": content], in: cluster)
        // Any one node down (R = 2): the other copies serve it.
        for node in 0..<4 {
            await cluster.stopNode(node)
            #expect(try await cluster.mismatchedFiles(["f": content]).isEmpty, "node \(node) down")
            try await cluster.startNode(node)
        }
        // A lying node: an altered body under a higher version number. It does not open, so it is not the newest.
        let record = try await cluster.withSession { try await live($0, "f") }
        var header = try ManifestHeader.decode(prefixOf: record.bytes)
        header.version += 5
        var forged = header.encoded() + record.bytes[ManifestHeader.byteCount...]
        forged[ManifestHeader.byteCount + 40] ^= 0x01
        let link = try await cluster.connect(node: 1, user: cluster.user)
        try await link.putManifest(record.id.hex, bytes: Array(forged))
        await link.close()
        #expect(try await cluster.mismatchedFiles(["f": content]).isEmpty, "the forged copy is not read")
        // A node that lost every file: check says degraded, repair copies the manifest back, and it alone serves.
        await cluster.stopNode(2)
        try FileManager.default.removeItem(atPath: cluster.dataDirectory(node: 2))
        try await cluster.startNode(2)
        let degraded = try await cluster.withSession { try await CheckOperation($0).run(readData: true) }
        #expect(degraded.files.first { $0.name == "f" }?.health == .degraded, "\(degraded.files)")
        let repair = try await cluster.withSession { try await RepairOperation($0).run() }
        #expect(repair.worst == .healthy, "\(repair.files)")
        for node in [0, 1, 3] { await cluster.stopNode(node) }
        let alone = try await cluster.withSession { session in
            let record = try await live(session, "f")
            return record.body.inlineData?.withUnsafeBytes { Array($0) }
        }
        #expect(alone == content, "the repaired copy on DFS3")
    }

    @Test("overwrites between inline and striped versions remove the old objects; mv, rm; rotate --reencrypt re-seals the bytes")
    func lifecycle() async throws {
        try await withCluster(.inProcess, nodes: 4, replicas: 2) { cluster in
            let small = try randomContent(2000), large = try randomContent(200_000), smaller = try randomContent(10)
            try await cluster.withSession { session in
                _ = try await PutOperation(session).run(file: cluster.writeScratch("l", large), as: "f")
                #expect(!cluster.objectHolders().isEmpty)
                _ = try await PutOperation(session).run(file: cluster.writeScratch("s", small), as: "f")
                #expect(cluster.objectHolders().isEmpty, "the striped version's objects went with it")
                _ = try await PutOperation(session).run(file: cluster.writeScratch("l", large), as: "f")
                _ = try await PutOperation(session).run(file: cluster.writeScratch("t", smaller), as: "g")
                _ = try await MoveOperation(session).run(from: "g", to: "dir/g")
            }
            #expect(try await cluster.mismatchedFiles(["f": large, "dir/g": smaller]).isEmpty)
            let (before, oldMaster) = try await cluster.withSession { (try await live($0, "dir/g"), $0.currentBundle.masterKey) }
            let report = try await cluster.withSession { try await KeyRotation($0).run(reencrypt: true) }
            #expect(report.reencrypted == 2, "the striped file and the inline one")
            try await cluster.withSession { session in
                let after = try await live(session, "dir/g")
                #expect(after.header.keyEpoch == 2 && after.body.dataKeyEpoch == 2)
                #expect(after.body.inlineData?.withUnsafeBytes { Array($0) } == smaller)
                #expect(!after.body.dataKey.withUnsafeBytes { new in before.body.dataKey.withUnsafeBytes { $0.elementsEqual(new) } })
                #expect(throws: FormatError.self) { _ = try Manifest.open(after.bytes, masterKey: oldMaster) }
            }
            #expect(try await cluster.mismatchedFiles(["f": large, "dir/g": smaller]).isEmpty)
            try await cluster.withSession { session in
                try await RemoveOperation(session).run(name: "dir/g")
                try await RemoveOperation(session).run(name: "f")
                #expect(try await ManifestReader(session).lookUp(path: "dir/g").live == nil)
            }
            #expect(cluster.objectHolders().isEmpty)
        }
    }

    @Test("a listing fetches manifests in rounds of bounded bytes and keeps no inline bytes; a get reads them again")
    func listingMemory() async throws {
        try await withCluster(.inProcess, nodes: 4, replicas: 2) { cluster in
            var files = [String: [UInt8]]()
            for index in 0..<30 { files["d/f\(index)"] = try randomContent(4000 + index) }
            files["d/large"] = try randomContent(100_000)
            try await cluster.withSession { session in
                for (name, content) in files {
                    _ = try await PutOperation(session).run(file: cluster.writeScratch("src", content), as: name)
                }
                let inventory = await ClusterInventory.take(session)
                // About 4.1 KB per copy, 4 copies each: 40 kB rounds hold two inline manifests.
                let rounds = inventory.manifestRounds(bytesPerRound: 40_000)
                #expect(rounds.count >= 10 && rounds.allSatisfy { !$0.isEmpty })
                #expect(rounds.flatMap { $0 }.sorted() == inventory.manifestHolders.keys.sorted())
                let (records, unreadable, lost) = await inventory.newestManifests(session, bytesPerRound: 40_000)
                #expect(unreadable == 0 && lost.isEmpty)
                let named = records.values.filter { !$0.body.isFolder }
                #expect(Set(named.map(\.body.name)) == Set(files.keys))
                for record in named where record.body.isInline {
                    #expect(record.body.inlineData == nil && record.bytes.count == ManifestHeader.byteCount)
                    #expect(throws: ClientError.self) { _ = try record.inlineData() }
                }
                #expect(named.filter(\.body.isInline).count == 30)
                let listing = try await ListOperation(session).run()
                #expect(listing.filter { !$0.isFolder }.count == 31 && listing.allSatisfy { $0.health == "healthy" })
            }
            #expect(try await cluster.mismatchedFiles(files).isEmpty)
        }
    }

    @Test("copies that fail authentication: on too many nodes a get is an integrity error (65), not 'nodes down'; on every node check reports the manifest as damaged")
    func unopenedCopies() async throws {
        let cluster = try InProcessCluster(nodes: 4, replicas: 2)
        defer { Task { await cluster.shutdown() } }
        let content = try randomContent(1000), other = try randomContent(2000)
        try await store(["z": content, "ok": other], in: cluster)
        let record = try await cluster.withSession { try await live($0, "z") }
        var header = try ManifestHeader.decode(prefixOf: record.bytes)
        header.version += 1
        var forged = header.encoded() + record.bytes[ManifestHeader.byteCount...]
        forged[forged.count - 1] ^= 0x01
        func forge(on nodes: [Int]) async throws {
            for node in nodes {
                let link = try await cluster.connect(node: node, user: cluster.user)
                try await link.putManifest(record.id.hex, bytes: Array(forged))
                await link.close()
            }
        }
        // Two of four (the read quorum is three): the authentic copies cannot be trusted to be the newest.
        try await forge(on: [0, 1])
        try await expectIntegrityError(cluster, getting: "z", mentioning: ["DFS1,DFS2", "fail authentication"])
        // Every node: the file is gone from every listing, and check says so.
        try await forge(on: [2, 3])
        let report = try await cluster.withSession { try await CheckOperation($0).run() }
        #expect(report.unopenedManifests == [record.id.hex] && report.worst == .damaged, "\(report)")
        let notices = Notices()
        let listing = try await cluster.withSession(notices: notices) { try await ListOperation($0).run() }
        #expect(listing.map(\.name) == ["ok"])
        #expect(notices.all.contains { $0.contains("1 stored file(s) cannot be listed") }, "\(notices.all)")
        #expect(try await cluster.mismatchedFiles(["ok": other]).isEmpty)
    }

    @Test("copies damaged on the nodes' disks (their checksum fails) count as answers that vouch for nothing: 65 naming the nodes, not 'start the nodes'; repair puts them back (attack finding)")
    func unreadableCopies() async throws {
        let cluster = try InProcessCluster(nodes: 4, replicas: 2)
        defer { Task { await cluster.shutdown() } }
        let content = try randomContent(3500)
        try await store(["b": content], in: cluster)
        let id = try await cluster.withSession { try await live($0, "b") }.id.hex
        for node in [0, 2] {
            try DiskDamage.flipByte(cluster.userDirectory(node: node) + "/manifests/" + id, at: 200)
        }
        try await expectIntegrityError(cluster, getting: "b", mentioning: ["DFS1,DFS3", "cannot be read"])
        // check agrees with the get: not "readable, short of redundancy" without a word on the refusal.
        let check = try await cluster.withSession { try await CheckOperation($0).run(names: ["b"]) }
        #expect(check.worst == .degraded, "\(check)")
        #expect(check.files.first?.problems.contains {
            $0.contains("get refuses it until edfs repair") && $0.contains("DFS1,DFS3") && $0.contains("fewer than the 3 nodes")
        } == true, "\(check)")
        let repair = try await cluster.withSession { try await RepairOperation($0).run() }
        #expect(repair.worst == .healthy, "\(repair)")
        #expect(try await cluster.mismatchedFiles(["b": content]).isEmpty)
    }
}
