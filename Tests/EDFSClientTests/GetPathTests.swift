import EDFSClient
import EDFSCrypto
import EDFSFormat
import EDFSTestSupport
import Foundation
import Testing

/// The get path of `get -r`: manifests read in bulk must be trusted exactly as one file's lookup is, and the batch
/// buffers one command shares between files must come back zeroed.
@Suite("Get path")
struct GetPathTests {
    private let password = "correct horse battery"

    /// What a lookup decided, in a comparable form.
    private func summary(_ lookup: ManifestLookup) -> [String] {
        [
            "newest \(lookup.newest.map { "\($0.header.version) \(Hex.encode(Digest.sha256($0.bytes))) \($0.holders)" } ?? "-")",
            "live \(lookup.live != nil)",
            "highest \(lookup.highestVersion)",
            "unsettled \(lookup.unsettledNodes.sorted())",
            "failed \(lookup.failedNodes.sorted())",
            "forged \(lookup.forgedCopies) \(lookup.forged.map { "\($0.node)/\($0.id.hex)/\($0.storedVersion)" }.sorted())",
            "copies \(lookup.copies.map { "\($0.id.hex)/\($0.node)/\($0.version)" }.sorted())",
            "versions \(lookup.versions.map(\.header.version).sorted())",
        ]
    }

    @Test("lookUp(paths:) decides what lookUp(path:) does: forged copies, older versions, absent names, a node down")
    func bulkLookupMatchesSingle() async throws {
        let cluster = try InProcessCluster(nodes: 4, users: ["alice": password])
        defer { Task { await cluster.shutdown() } }
        try await cluster.withSession { session in
            for name in ["plain", "forged", "rolled", "removed"] {
                _ = try await PutOperation(session).run(file: cluster.writeScratch(name, try randomContent(3000)), as: name)
            }
            try await RemoveOperation(session).run(name: "removed")
        }
        // A copy of "forged" on node 0 that fails authentication.
        let (id, authentic) = try await cluster.withSession { session in
            let record = try #require(try await ManifestReader(session).lookUp(path: "forged").live)
            return (record.id, record.bytes)
        }
        var header = try ManifestHeader.decode(prefixOf: authentic)
        header.version += 1
        let link = try await cluster.connect(node: 0, user: "alice")
        try await link.putManifest(id.hex, bytes: Array(header.encoded() + authentic[ManifestHeader.byteCount...]))
        await link.close()
        // "rolled": a newer version that nodes 1 and 3 missed.
        await cluster.stop(node: 1)
        await cluster.stop(node: 3)
        try await cluster.withSession { session in
            _ = try await PutOperation(session).run(file: cluster.writeScratch("rolled2", try randomContent(4000)), as: "rolled")
        }
        try await cluster.restart(node: 1)
        try await cluster.restart(node: 3)
        let names = ["plain", "forged", "rolled", "removed", "never stored"]
        for down in [nil, 2] {
            if let down { await cluster.stop(node: down) }
            let notices = Notices()
            try await cluster.withSession(notices: notices) { session in
                let reader = ManifestReader(session)
                let bulk = await reader.lookUp(paths: names)
                #expect(bulk.count == names.count)
                for (name, lookup) in zip(names, bulk) {
                    let single = try await reader.lookUp(path: name)
                    #expect(summary(lookup) == summary(single), "\(name), node \(down.map(String.init) ?? "none") down")
                    let fromBulk = Result { try reader.liveManifest(path: name, from: lookup).bytes }
                    let fromSingle = Result { try reader.liveManifest(path: name, from: single).bytes }
                    #expect(String(describing: fromBulk) == String(describing: fromSingle), "\(name)")
                }
                #expect(try reader.liveManifest(path: "rolled", from: bulk[2]).body.size == 4000)
                #expect(bulk[1].unsettledNodes.contains(0))
            }
            // The note names the file whose copy failed (attack finding: 83 such notes named none).
            #expect(notices.all.contains("node \(cluster.nodeNames[0]) holds a manifest for forged that fails "
                                         + "authentication; ignored"), "\(notices.all)")
        }
    }

    @Test("one pool for several gets: every file exact, the kept buffers zeroed and bounded")
    func sharedPool() async throws {
        let cluster = try InProcessCluster(nodes: 4, users: ["alice": password])
        defer { Task { await cluster.shutdown() } }
        let sizes = [0, 1, 4096, 70_000, 300_001, 9 << 20]
        let pool = BatchBufferPool(limit: 3)
        try await cluster.withSession { session in
            var contents = [[UInt8]]()
            for (index, size) in sizes.enumerated() {
                let content = try randomContent(size)
                contents.append(content)
                _ = try await PutOperation(session).run(file: cluster.writeScratch("in\(index)", content), as: "f\(index)")
            }
            for round in 0..<2 {
                for (index, content) in contents.enumerated().reversed() {
                    let out = cluster.scratch("out\(round)-\(index)")
                    try await GetOperation(session, pool: pool).run(name: "f\(index)", to: .file(out))
                    #expect(try Array(Data(contentsOf: URL(fileURLWithPath: out))) == content, "f\(index)")
                }
            }
        }
        #expect(pool.keptCount > 0 && pool.keptCount <= 3)
        #expect(pool.keptPlaintextIsZero)
    }

    @Test("direct output: files of every size and stripe alignment written byte-exact (O_DIRECT where aligned, the rest through the page cache)")
    func directOutput() async throws {
        let cluster = try InProcessCluster(nodes: 4, users: ["alice": password])
        defer { Task { await cluster.shutdown() } }
        // 16 MiB: page-aligned stripes and batches; 12 MiB - 5: aligned stripe offsets, a last stripe ending
        // mid-page; 9 MiB + 12,345: stripe offsets off the page grid (no O_DIRECT at all); small ones below a page.
        let sizes = [0, 1, 4096, 70_000, (12 << 20) - 5, (9 << 20) + 12_345, 16 << 20]
        try await cluster.withSession { session in
            for (index, size) in sizes.enumerated() {
                let content = try randomContent(size)
                _ = try await PutOperation(session).run(file: cluster.writeScratch("d\(index)", content), as: "d\(index)")
                let out = cluster.scratch("direct\(index)")
                try await GetOperation(session, direct: true).run(name: "d\(index)", to: .file(out))
                #expect(try Array(Data(contentsOf: URL(fileURLWithPath: out))) == content, "size \(size)")
            }
        }
    }

    @Test("a file that appears at the target during a get is kept unless replacing (--force); nothing partial is left (attack finding)")
    func fileAppearingDuringTheGet() async throws {
        let cluster = try InProcessCluster(nodes: 4, users: ["alice": password])
        defer { Task { await cluster.shutdown() } }
        try await cluster.withSession { session in
            let content = try randomContent(300_000)
            _ = try await PutOperation(session).run(file: cluster.writeScratch("src", content), as: "f")
            let folder = cluster.scratch("out")
            try FileManager.default.createDirectory(atPath: folder, withIntermediateDirectories: true)
            let out = folder + "/f"
            let theirs = Data("written by someone else meanwhile".utf8)
            let plant: @Sendable () -> Void = { FileManager.default.createFile(atPath: out, contents: theirs) }
            await #expect(throws: ClientError.self) {
                try await GetOperation(session, replacing: false, beforeRename: plant).run(name: "f", to: .file(out))
            }
            #expect(FileManager.default.contents(atPath: out) == theirs)
            #expect(try FileManager.default.contentsOfDirectory(atPath: folder) == ["f"], "no part file left")
            // With replacing (what --force asks), the get's bytes win.
            try await GetOperation(session, replacing: true, beforeRename: plant).run(name: "f", to: .file(out))
            #expect(try Array(Data(contentsOf: URL(fileURLWithPath: out))) == content)
            #expect(try FileManager.default.contentsOfDirectory(atPath: folder) == ["f"])
            // Without one appearing, a get that may not replace writes as always.
            try FileManager.default.removeItem(atPath: out)
            try await GetOperation(session, replacing: false).run(name: "f", to: .file(out))
            #expect(try Array(Data(contentsOf: URL(fileURLWithPath: out))) == content)
        }
    }
}
