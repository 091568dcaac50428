import EDFSClient
import EDFSCrypto
import EDFSFormat
import EDFSNode
import Foundation
import NIOCore
import Testing

/// Put, get, stat, delete and list over real TLS on loopback.
@Suite struct NodeRoundTripTests {
    @Test func putGetStatDeleteListOfSeveralSizes() async throws {
        try await withNode { node in
            let connection = try await node.connect()
            let sizes = [0, 1, (1 << 20) - 1, 1 << 20, (1 << 20) + 1, 5 * (1 << 20) + 3]
            var stored: [String: [UInt8]] = [:]
            for size in sizes {
                let name = "object-\(size)"
                let bytes = randomBytes(size)
                try await connection.putObject(name, bytes: bytes)
                stored[name] = bytes
            }
            for (name, bytes) in stored {
                #expect(try await connection.getObject(name) == bytes, "\(name)")
                let stat = try await connection.stat(object: name, verify: true)
                #expect(stat.length == UInt64(bytes.count))
                #expect(stat.checksumState == .verified)
            }
            let listed = try await connection.listObjects()
            #expect(listed == stored.mapValues { UInt64($0.count) })

            let status = try await connection.status()
            #expect(status.nodeName == "N1")
            #expect(status.objectCount == UInt64(sizes.count))
            #expect(status.freeBytes > 0 && status.totalBytes >= status.freeBytes)

            for name in stored.keys { try await connection.delete(object: name) }
            #expect(try await connection.listObjects().isEmpty)
            await expectRefusal(.notFound) { _ = try await connection.getObject("object-1") }
            await expectRefusal(.notFound) { try await connection.delete(object: "object-1") }
            await expectRefusal(.notFound) { _ = try await connection.stat(object: "object-1") }
            #expect(node.temporaryFiles().isEmpty)
            await connection.close()
        }
    }

    @Test func getWithOffsetAndLength() async throws {
        try await withNode { node in
            let connection = try await node.connect()
            let bytes = randomBytes(3 * (1 << 20) + 12345)
            try await connection.putObject("ranged", bytes: bytes)
            let mib = 1 << 20
            let ranges: [(Int, Int?)] = [(0, 0), (0, 1), (5, 100), (mib - 10, 20), (mib, mib), (mib - 1, 2 * mib + 2),
                                         (bytes.count - 1, nil), (bytes.count, nil), (100, nil), (7, 10 * mib)]
            for (offset, length) in ranges {
                let got = try await connection.getObject("ranged", offset: UInt64(offset), length: length.map(UInt64.init))
                let end = min(bytes.count, length.map { offset + $0 } ?? bytes.count)
                #expect(got == Array(bytes[offset..<end]), "offset \(offset) length \(String(describing: length))")
            }
            let download = try await connection.startGet(object: "ranged", offset: 10, length: 5)
            #expect(download.objectLength == UInt64(bytes.count))
            #expect(download.length == 5)
            #expect(try await download.collect() == Array(bytes[10..<15]))
            await expectRefusal(.malformed) {
                _ = try await connection.getObject("ranged", offset: UInt64(bytes.count + 1))
            }
            await connection.close()
            try await node.assertServesGoodClient()
        }
    }

    @Test func manyRequestsInFlightOnOneConnection() async throws {
        try await withNode { node in
            let connection = try await node.connect()
            let objects = (0..<12).map { ("parallel-\($0)", randomBytes(300_000 + $0 * 77_777)) }
            try await withThrowingTaskGroup(of: Void.self) { group in
                for (name, bytes) in objects {
                    group.addTask { try await connection.putObject(name, bytes: bytes) }
                }
                try await group.waitForAll()
            }
            try await withThrowingTaskGroup(of: (String, [UInt8]).self) { group in
                for (name, _) in objects {
                    group.addTask { (name, try await connection.getObject(name)) }
                    group.addTask { (name + "/stat", try await connection.stat(object: name).length.bigEndianBytes) }
                }
                var results: [String: [UInt8]] = [:]
                for try await (key, value) in group { results[key] = value }
                for (name, bytes) in objects {
                    #expect(results[name] == bytes)
                    #expect(results[name + "/stat"] == UInt64(bytes.count).bigEndianBytes)
                }
            }
            await connection.close()
        }
    }

    /// A node reads a GET's full blocks into reused memory shared by all its users (PayloadBlocks, STORAGE.md "Memory
    /// and backpressure"): concurrent gets of two users, ranged ones and ones whose last block is short or just over
    /// half a block, stay byte-exact, also right after a get that failed on a corrupt block.
    @Test func usersGetsThroughReusedBlocksStayExact() async throws {
        try await withNode { node in
            let alice = try await node.connect("alice")
            let bob = try await node.connect("bob")
            let mib = 1 << 20
            // Random bytes from OpenSSL and compared with memcmp: byte loops over megabytes in a debug build hold a
            // cooperative thread for seconds, which starves the in-process nodes of the suites running beside this one.
            let aliceObjects = [("a-long", try SecureRandom.bytes(3 * mib + 123)),
                                ("a-tail", try SecureRandom.bytes(mib + (700 << 10))),
                                ("a-rotten", try SecureRandom.bytes(2 * mib))]
            let bobObjects = [("b-long", try SecureRandom.bytes(2 * mib + 5)),
                              ("b-tail", try SecureRandom.bytes(mib + (512 << 10) + 1))]
            for (name, bytes) in aliceObjects { try await alice.putObject(name, bytes: bytes) }
            for (name, bytes) in bobObjects { try await bob.putObject(name, bytes: bytes) }
            // A byte of a-rotten's second block damaged on disk: its get fails once the node reads that block.
            try flipByte(node.dataDirectory + "/users/alice/objects/a-rotten", at: UInt64(mib + 4321))
            let wanted = Dictionary(uniqueKeysWithValues: aliceObjects + bobObjects)

            for round in 0..<3 {
                try await withThrowingTaskGroup(of: (String, [UInt8]?).self) { group in
                    for (name, _) in aliceObjects where name != "a-rotten" {
                        group.addTask { (name, try await alice.getObject(name)) }
                    }
                    for (name, _) in bobObjects {
                        group.addTask { (name, try await bob.getObject(name)) }
                        group.addTask { ("\(name)@ranged", try await bob.getObject(name, offset: UInt64(mib - 3), length: UInt64(mib))) }
                    }
                    group.addTask {
                        do {
                            _ = try await alice.getObject("a-rotten")
                            Issue.record("round \(round): a corrupt block was delivered")
                        } catch {
                            #expect(nodeCode(error) == .checksumMismatch, "round \(round): \(error)")
                        }
                        return ("a-rotten", nil)
                    }
                    for try await (key, got) in group {
                        guard let got else { continue }
                        if key.hasSuffix("@ranged"), let bytes = wanted[String(key.dropLast(7))] {
                            let end = min(bytes.count, 2 * mib - 3)
                            #expect(Self.sameBytes(got, bytes[(mib - 3)..<end]), "round \(round): \(key)")
                        } else {
                            #expect(Self.sameBytes(got, wanted[key] ?? []), "round \(round): \(key) (\(got.count) bytes)")
                        }
                    }
                }
            }
            await alice.close()
            await bob.close()
        }
    }

    /// Whether `a` and `b` hold the same bytes (memcmp).
    static func sameBytes(_ a: [UInt8], _ b: ArraySlice<UInt8>) -> Bool {
        a.count == b.count && a.withUnsafeBytes { x in
            b.withUnsafeBytes { y in
                guard let p = x.baseAddress, let q = y.baseAddress else { return x.count == 0 }
                return memcmp(p, q, x.count) == 0
            }
        }
    }

    static func sameBytes(_ a: [UInt8], _ b: [UInt8]) -> Bool { sameBytes(a, b[...]) }

    @Test func streamingPutFromChunksAndOverwrite() async throws {
        try await withNode { node in
            let connection = try await node.connect()
            let bytes = randomBytes(4 * (1 << 20) + 5)
            let upload = try await connection.startPut(object: "streamed", length: UInt64(bytes.count))
            var offset = 0
            for size in [1, 1000, 3 << 20, 65536] where offset < bytes.count {
                let end = min(bytes.count, offset + size)
                try await upload.write(ByteBuffer(bytes: bytes[offset..<end]))
                offset = end
            }
            try await upload.write(ByteBuffer(bytes: bytes[offset...]))
            try await upload.finish()
            #expect(try await connection.getObject("streamed") == bytes)

            // Replacing an object is atomic and leaves the new bytes.
            let replacement = randomBytes(1234)
            try await connection.putObject("streamed", bytes: replacement)
            #expect(try await connection.getObject("streamed") == replacement)

            // The client refuses to send more than it announced, before anything reaches the node.
            let short = try await connection.startPut(object: "too-long", length: 3)
            await #expect(throws: NodeConnectionError.self) { try await short.write(bytes: [1, 2, 3, 4]) }
            await short.cancel()
            await connection.close()
        }
    }

    @Test func listingIsPaged() async throws {
        try await withNode { node in
            let connection = try await node.connect()
            let names = (0..<25).map { String(format: "page-%03d", $0) }
            for name in names { try await connection.putObject(name, bytes: [1, 2, 3]) }
            var seen: [String] = []
            var after = ""
            var pages = 0
            while true {
                let page = try await connection.list(.objects, startAfter: after, limit: 7)
                pages += 1
                #expect(page.entries.count <= 7)
                seen += page.entries.map(\.name)
                #expect(page.entries.allSatisfy { $0.length == 3 })
                guard page.more, let last = page.entries.last else { break }
                after = last.name
            }
            #expect(seen == names)
            #expect(pages == 4)
            #expect(try await connection.list(.manifests).entries.isEmpty)
            await connection.close()
        }
    }

    @Test func slowReaderIsBoundedByItsWindow() async throws {
        try await withNode { node in
            var options = NodeConnection.Options()
            options.getWindow = 2 << 20
            let connection = try await node.connect(options: options)
            let bytes = randomBytes(24 << 20)
            try await connection.putObject("big", bytes: bytes)
            let slow = try await connection.startGet(object: "big")
            // While the slow GET's consumer does nothing, other requests on the same connection still complete.
            try await Task.sleep(for: .milliseconds(200))
            for index in 0..<3 { try await connection.putObject("other-\(index)", bytes: randomBytes(100_000)) }
            #expect(try await connection.stat(object: "other-2").length == 100_000)
            // The node sent up to the window and then stopped: what is buffered never exceeds it.
            #expect(slow.bufferedBytes > 0)
            #expect(slow.bufferedBytes <= options.getWindow)
            // Then the whole object arrives, in order.
            #expect(try await slow.collect() == bytes)
            await connection.close()
        }
    }
}

extension NodeRoundTripTests {
    @Test func stalledReadersHoldNoNodeMemory() async throws {
        var limits = NodeLimits()
        limits.readBufferBudget = 1 << 20  // room for one block in flight on the whole node
        try await withNode(limits: limits) { node in
            var options = NodeConnection.Options()
            options.getWindow = 1 << 20
            let stalled = try await node.connect("alice", options: options)
            let bytes = randomBytes(6 << 20)
            try await stalled.putObject("big", bytes: bytes)
            // Four GETs whose reader never reads past the first window.
            var downloads: [NodeConnectionDownload] = []
            for _ in 0..<4 { downloads.append(try await stalled.startGet(object: "big")) }
            #expect(await node.eventually { downloads.allSatisfy { $0.bufferedBytes == 1 << 20 } })
            // Another user's GETs still get the node's buffers.
            let other = try await node.connect("bob")
            let mine = randomBytes(3 << 20)
            try await other.putObject("mine", bytes: mine)
            #expect(try await other.getObject("mine") == mine)
            await other.close()
            // And the stalled readers finish once they read.
            for download in downloads { #expect(try await download.collect() == bytes) }
            await stalled.close()
        }
    }
}

extension UInt64 {
    var bigEndianBytes: [UInt8] { withUnsafeBytes(of: bigEndian) { Array($0) } }
}
