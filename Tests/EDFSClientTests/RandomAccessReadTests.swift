import EDFSClient
import EDFSDevTools
import EDFSFormat
import EDFSTestSupport
import Foundation
import Testing

/// Random-access reads (what `edfs mount` serves `read` with) against real nodes in process: byte-exact at seeded
/// random offsets, only the segments a read covers fetched, replica failover when a node stops or an object is
/// corrupt.
@Suite("Random-access reads", .serialized)
struct RandomAccessReadTests {
    /// 4 stripes of 64 KiB segments, the last segment of each stripe short.
    static let fileSize = 3 * 1_048_576 + 12_345

    private func store(_ cluster: any ClientCluster, _ content: [UInt8]) async throws -> ManifestRecord {
        try await cluster.withSession { session in
            _ = try await PutOperation(session).run(file: cluster.writeScratch("source", content), as: "dir/big.bin")
            return try await ManifestReader(session).liveManifest(path: "dir/big.bin").0
        }
    }

    /// `count` reads at seeded random offsets and lengths (up to 200 KiB, some past the end), each compared.
    private func randomReads(_ reader: RandomAccessRead, _ content: [UInt8], count: Int, seed: UInt64) async throws {
        var random = SplitMix64(state: seed)
        for index in 0..<count {
            let offset = UInt64.random(in: 0...UInt64(content.count + 1000), using: &random)
            let length = Int.random(in: 1...(200 << 10), using: &random)
            let bytes = try await reader.read(at: offset, count: length)
            let start = min(content.count, Int(offset))
            let end = min(content.count, start + length)
            #expect(bytes == Array(content[start..<end]), "read \(index): \(length) bytes at \(offset)")
        }
    }

    @Test("1,000 seeded random ranged reads of a multi-stripe file match the source; one byte fetches one segment")
    func randomReadsMatch() async throws {
        try await withCluster(.inProcess, nodes: 4, replicas: 2) { cluster in
            let content = try randomContent(Self.fileSize)
            let record = try await store(cluster, content)
            #expect(record.body.nodeCount == 4)
            try await cluster.withSession { session in
                let single = try RandomAccessRead(session: session, record: record, cache: SegmentCache(), readAheadBytes: 0)
                let offset = 1_048_576 + 70_000  // inside stripe 1
                #expect(try await single.read(at: UInt64(offset), count: 1) == [content[offset]])
                #expect(single.fetchCounts.segments == 1 && single.fetchCounts.requests == 1)
                #expect(try await single.read(at: UInt64(offset + 5), count: 10) == Array(content[(offset + 5)..<(offset + 15)]))
                #expect(single.fetchCounts.segments == 1, "the cached segment served the second read")
                #expect(try await single.read(at: UInt64(content.count), count: 10).isEmpty)
                #expect(try await single.read(at: UInt64(content.count - 3), count: 10) == Array(content.suffix(3)))

                let cache = SegmentCache(capacitySegments: 64, capacityBytes: 64 << 20)
                let reader = try RandomAccessRead(session: session, record: record, cache: cache)
                try await randomReads(reader, content, count: 1000, seed: 0x5EED_0013)
                #expect(cache.count <= 64, "the cache stays within its bound")

                // A sequential read in 128 KiB requests (as FUSE sends them) comes back whole, with read-ahead.
                let sequential = try RandomAccessRead(session: session, record: record, cache: SegmentCache())
                var whole = [UInt8]()
                while whole.count < content.count {
                    whole += try await sequential.read(at: UInt64(whole.count), count: 128 << 10)
                }
                #expect(whole == content)
                let counts = sequential.fetchCounts
                #expect(counts.segments == (0..<4).reduce(0) { total, stripe in
                    total + Int((record.body.stripeLengths[stripe] + 65_535) / 65_536)
                }, "every segment fetched once")
                #expect(counts.requests < counts.segments, "read-ahead fetches runs of segments per request")
            }
        }
    }

    @Test("a replica's node stopped, or its object corrupt: reads fail over to the other replica")
    func failover() async throws {
        try await withCluster(.inProcess, nodes: 4, replicas: 2) { cluster in
            let content = try randomContent(Self.fileSize)
            let record = try await store(cluster, content)
            // Corrupt stripe 1's primary replica in the middle of its segments.
            let stripe1 = try record.stripeHeader(1)
            let primary1 = try record.nodes(ofStripe: 1)[0]
            let path = try #require(cluster.objectFiles(node: primary1)[stripe1.objectName])
            try DiskDamage.flipByte(path, at: stripe1.objectLength / 2)
            // Stop the primary node of a stripe that shares no node with stripe 1, whose other replica must answer.
            let replicas1 = try record.nodes(ofStripe: 1)
            let stopped = try #require(try (0..<4).map { try record.nodes(ofStripe: $0)[0] }
                .first { !replicas1.contains($0) })
            let session = try await cluster.session()
            await cluster.stopNode(stopped)
            let reader = try RandomAccessRead(session: session, record: record, cache: SegmentCache())
            try await randomReads(reader, content, count: 300, seed: 0xFA11_0E7E)
            let corruptOffset = Int(try record.stripeHeader(0).plaintextLength) + Int(stripe1.plaintextLength / 2)
            #expect(try await reader.read(at: UInt64(corruptOffset), count: 4096)
                    == Array(content[corruptOffset..<(corruptOffset + 4096)]))
            #expect(session.notices.all.contains { $0.contains("stripe 1") && $0.contains("came from") },
                    "\(session.notices.all)")
            let stoppedName = cluster.nodeNames[stopped]
            #expect(session.notices.all.contains { $0.contains("came from") && $0.contains("after: \(stoppedName)") },
                    "\(session.notices.all)")
            await session.close()
        }
    }
}
