import EDFSClient
import EDFSFormat
import EDFSNode
import EDFSTestSupport
import Foundation
import Logging
import NIOCore
import Testing

/// Corruption on disk, disconnects and restarts leave no torn or silently wrong data.
@Suite struct FaultTests {
    @Test func aFlippedByteIsACheckSumErrorNotBadBytes() async throws {
        try await withNode { node in
            let connection = try await node.connect()
            let mib = 1 << 20
            let bytes = randomBytes(3 * mib + 5)
            try await connection.putObject("rotting", bytes: bytes)
            let path = node.dataDirectory + "/users/alice/objects/rotting"
            try flipByte(path, at: UInt64(mib + 4321))  // in block 1

            // A read of block 0 alone is fine.
            #expect(try await connection.getObject("rotting", offset: 0, length: UInt64(mib)) == Array(bytes[0..<mib]))
            // A read through block 1 gets block 0's verified bytes, then the checksum error: never block 1's bytes.
            let download = try await connection.startGet(object: "rotting")
            var received: [UInt8] = []
            do {
                while let chunk = try await download.next() { received += chunk.readableBytesView }
                Issue.record("a corrupt object was delivered")
            } catch {
                #expect(nodeCode(error) == .checksumMismatch, "got \(error)")
            }
            #expect(received == Array(bytes[0..<received.count]))
            #expect(received.count <= mib)
            await expectRefusal(.checksumMismatch) { _ = try await connection.getObject("rotting", offset: UInt64(mib + 4000), length: 10) }

            #expect(try await connection.stat(object: "rotting").checksumState == .footerIntact)
            #expect(try await connection.stat(object: "rotting", verify: true).checksumState == .corrupt)
            let report = try node.node.scrubber.scrub()
            #expect(report.corrupt == ["users/alice/objects/rotting"])
            await connection.close()
        }
    }

    @Test func aDamagedFooterOrTruncatedFileIsACheckSumError() async throws {
        try await withNode { node in
            let connection = try await node.connect()
            try await connection.putObject("footer", bytes: randomBytes(10_000))
            try await connection.putObject("short", bytes: randomBytes(10_000))
            try await connection.putObject("fine", bytes: randomBytes(10_000))
            let base = node.dataDirectory + "/users/alice/objects/"
            try flipByte(base + "footer", at: 10_003)  // inside the CRC table
            let handle = try #require(FileHandle(forUpdatingAtPath: base + "short"))
            try handle.truncate(atOffset: 9_000)
            try handle.close()

            for name in ["footer", "short"] {
                await expectRefusal(.checksumMismatch) { _ = try await connection.getObject(name) }
                #expect(try await connection.stat(object: name).checksumState == .corrupt)
            }
            let listed = try await connection.listObjects()
            #expect(listed == ["fine": 10_000, "footer": UInt64.max, "short": UInt64.max])
            #expect(try node.node.scrubber.scrub().corrupt.sorted() == ["users/alice/objects/footer", "users/alice/objects/short"])

            // A corrupt manifest may be replaced by any version (that is how repair fixes it).
            let id = try randomManifestID()
            try await connection.putManifest(id.hex, bytes: try testManifest(id: id, version: 7))
            try flipByte(node.dataDirectory + "/users/alice/manifests/" + id.hex, at: 60)
            await expectRefusal(.checksumMismatch) { _ = try await connection.getManifest(id.hex) }
            let repaired = try testManifest(id: id, version: 1)
            try await connection.putManifest(id.hex, bytes: repaired)
            #expect(try await connection.getManifest(id.hex) == repaired)
            await connection.close()
        }
    }

    @Test func aClientThatLeavesMidUploadLeavesNothing() async throws {
        try await withNode { node in
            let connection = try await node.connect()
            let upload = try await connection.startPut(object: "abandoned", length: 10 << 20)
            try await upload.write(bytes: randomBytes(3 << 20))
            #expect(await node.eventually { node.temporaryFiles().count == 1 })
            await connection.close()
            #expect(await node.eventually { node.temporaryFiles().isEmpty })

            // A cancelled upload on a live connection is discarded too.
            let other = try await node.connect()
            let cancelled = try await other.startPut(object: "cancelled", length: 1000)
            try await cancelled.write(bytes: randomBytes(500))
            await cancelled.cancel()
            try await other.putObject("kept", bytes: [1])
            #expect(await node.eventually { node.temporaryFiles().isEmpty })
            #expect(try await other.listObjects() == ["kept": 1])
            // A cancelled GET stops, and the connection carries on.
            try await other.putObject("large", bytes: randomBytes(8 << 20))
            let download = try await other.startGet(object: "large")
            _ = try await download.next()
            await download.cancel()
            #expect(try await other.getObject("kept") == [1])
            await other.close()
        }
    }

    /// Found under ASan: a node whose port was taken kept its thread pool running and its data folder locked after
    /// `start()` failed (LeakSanitizer reported the pool at exit, in place of the node's error line).
    @Test func aNodeThatCannotBindReleasesItsDataFolder() async throws {
        let running = try await TestNode()
        var configuration = running.node.configuration
        configuration.port = running.port
        configuration.dataDirectory = running.directory.path + "/second"
        var logger = Logger(label: "test")
        logger.logLevel = .critical
        let second = try StorageNode(configuration: configuration, logger: logger)
        await #expect(throws: NodeStartError.self) { try await second.start() }
        // An offline scrub takes the data folder's lock exclusively: free although `second` still exists.
        #expect(throws: Never.self) { _ = try DataFolderScrub.run(path: configuration.dataDirectory, options: ScrubOptions()) }
        withExtendedLifetime(second) {}
        await running.stop()
    }

    @Test func temporaryFilesAreRemovedAtStartUp() async throws {
        let node = try await TestNode()
        let connection = try await node.connect()
        try await connection.putObject("survivor", bytes: [1, 2, 3])
        await connection.close()
        await node.node.shutdown()
        let stray = node.dataDirectory + "/users/alice/objects/.tmp-0123456789abcdef"
        #expect(FileManager.default.createFile(atPath: stray, contents: Data([1, 2, 3])))
        #expect(FileManager.default.createFile(atPath: node.dataDirectory + "/users/alice/.tmp-keyslot", contents: Data()))

        var logger = Logger(label: "test")
        logger.logLevel = .critical
        let restarted = try StorageNode(configuration: node.node.configuration, logger: logger)
        #expect(!FileManager.default.fileExists(atPath: stray))
        #expect(try restarted.store.temporaryFiles().isEmpty)
        let address = try await restarted.start()
        let again = try await NodeConnection.open(host: "127.0.0.1", port: try #require(address.port), trust: node.trust,
                                                  user: "alice", passwordDigest: md5("alice-secret"),
                                                  options: .forTests)
        #expect(try await again.getObject("survivor") == [1, 2, 3])
        await again.close()
        await restarted.shutdown()
        node.directory.remove()
    }
}
