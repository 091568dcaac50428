import EDFSCrypto
import EDFSFormat
import EDFSTestSupport
@testable import EDFSNode
import Foundation
import Testing

/// `DirectIO:` (docs/STORAGE.md, "Direct I/O"): objects of 4 MiB or more written and served past the page cache, the
/// rest buffered; byte-exact either way, checksums still checked, and buffered I/O where the file system refuses.
@Suite struct DirectIOTests {
    static let mebi = 1 << 20
    static let sizes = [0, 1, 4 * mebi - 1, 4 * mebi, 4 * mebi + 1, 9 * mebi + 17]

    /// Deterministic bytes that differ per size and per position.
    static func content(_ count: Int) -> [UInt8] {
        var state = UInt64(count) &* 0x9E37_79B9_7F4A_7C15 | 1
        return (0..<count).map { _ in
            state ^= state << 13
            state ^= state >> 7
            state ^= state << 17
            return UInt8(truncatingIfNeeded: state)
        }
    }

    /// Writes `bytes` as object `id` in uneven pieces (so the staging buffer fills across appends), and commits.
    static func write(_ store: ObjectStore, id: String, _ bytes: [UInt8]) throws -> ObjectWriter {
        try fill(store.beginWrite(user: "alice", id: id, length: UInt64(bytes.count)), bytes)
    }

    /// Appends `bytes` to `writer` in uneven pieces and commits (unless told not to).
    @discardableResult
    static func fill(_ writer: ObjectWriter, _ bytes: [UInt8], commit: Bool = true) throws -> ObjectWriter {
        var offset = 0
        while offset < bytes.count {
            let end = min(bytes.count, offset + 300_007)
            try writer.append(Array(bytes[offset..<end]))
            offset = end
        }
        if commit { try writer.commit() }
        return writer
    }

    @Test("sizes 0, 1, 4 MiB − 1, 4 MiB, 4 MiB + 1 and 9 MiB + 17 read back byte-exact, DirectIO on and off; only objects of 4 MiB or more go past the page cache",
          arguments: [false, true])
    func byteExact(directIO: Bool) throws {
        let folder = try TemporaryDirectory()
        defer { folder.remove() }
        let store = try ObjectStore(root: folder.path, blockSize: Self.mebi, directIO: directIO)
        #expect((store.directIO != nil) == directIO)
        for size in Self.sizes {
            let bytes = Self.content(size)
            let large = directIO && size >= 4 * Self.mebi
            let writer = try store.beginWrite(user: "alice", id: "object-\(size)", length: UInt64(size))
            #expect(writer.writesDirectly == large, "size \(size)")
            try Self.fill(writer, bytes, commit: false)
            #expect(writer.writesDirectly == large, "every data byte written without a fallback, size \(size)")
            try writer.commit()
            let reader = try store.openReader(user: "alice", id: "object-\(size)", serving: true)
            #expect(reader.readsDirectly == large, "size \(size)")
            #expect(try reader.readAll() == bytes, "size \(size)")
            #expect(reader.readsDirectly == large, "no fallback on this file system, size \(size)")
            #expect(try store.openReader(user: "alice", id: "object-\(size)").readsDirectly == false, "other readers: buffered")
            let path = try store.path(user: "alice", namespace: .objects, id: "object-\(size)")
            let fileSize = try #require(try FileManager.default.attributesOfItem(atPath: path)[.size] as? Int)
            #expect(fileSize == reader.footer.fileSize, "size \(size)")
            #expect(try store.stat(user: "alice", id: "object-\(size)", verify: true).state == .verified)
        }
        // A manifest of 5 MiB is never written directly.
        let manifest = try store.beginWrite(user: "alice", namespace: .manifests, id: "m", length: UInt64(5 * Self.mebi))
        #expect(!manifest.writesDirectly)
        manifest.abort()
        #expect(store.directIO?.buffers.outCount ?? 0 == 0, "every staging and landing buffer given back")
        #expect(try store.temporaryFiles().isEmpty)
    }

    @Test("a flipped byte in a directly written object: its block fails its CRC on a direct read, the others read")
    func flippedByteIsCaught() throws {
        let folder = try TemporaryDirectory()
        defer { folder.remove() }
        let store = try ObjectStore(root: folder.path, blockSize: Self.mebi, directIO: true)
        let bytes = Self.content(9 * Self.mebi + 17)
        _ = try Self.write(store, id: "big", bytes)
        let path = try store.path(user: "alice", namespace: .objects, id: "big")
        for (block, offset) in [(5, UInt64(5 * Self.mebi + 4096)), (9, UInt64(9 * Self.mebi + 3))] {
            try flipByte(path, at: offset)
            let reader = try store.openReader(user: "alice", id: "big", serving: true)
            #expect(reader.readsDirectly)
            for index in 0..<reader.blockCount {
                let length = reader.footer.length(ofBlock: index)
                let buffer = UnsafeMutableRawBufferPointer.allocate(byteCount: length, alignment: 16)
                defer { buffer.deallocate() }
                if index == block {
                    #expect(throws: StoreError.checksumMismatch("object block \(block)")) {
                        try reader.readBlock(index, into: buffer)
                    }
                } else {
                    try reader.readBlock(index, into: buffer)
                    #expect(Array(buffer) == Array(bytes[(index * Self.mebi)..<(index * Self.mebi + length)]))
                }
            }
            try flipByte(path, at: offset)  // back as it was, for the next round
        }
        #expect(try store.stat(user: "alice", id: "big", verify: true).state == .verified)
    }

    @Test("a file system that refuses direct transfers after the open: the file goes on buffered, nothing lost",
          arguments: [0, 3])
    func refusedTransfers(after transfers: Int) throws {
        let folder = try TemporaryDirectory()
        defer { folder.remove() }
        let direct = try #require(DirectIO(blockSize: Self.mebi, refusingAfter: transfers))
        let store = try ObjectStore(root: folder.path, blockSize: Self.mebi, flusher: FolderFlusher(), directIO: direct)
        let bytes = Self.content(9 * Self.mebi + 17)
        let writer = try Self.write(store, id: "big", bytes)
        #expect(!writer.writesDirectly)
        let reader = try store.openReader(user: "alice", id: "big", serving: true)
        #expect(reader.readsDirectly, "the open succeeded")
        #expect(try reader.readAll() == bytes)
        #expect(!reader.readsDirectly, "refused at a read: buffered from then on")
        #expect(direct.buffers.outCount == 0)
        #expect(try store.stat(user: "alice", id: "big", verify: true).state == .verified)
    }

    @Test("a file system that refuses O_DIRECT at the open (ramfs): buffered writes and reads, byte-exact",
          .enabled(if: getuid() == 0, "mounts a ramfs (root)"))
    func ramfsFallback() throws {
        let folder = try TemporaryDirectory()
        defer { folder.remove() }
        let mountPoint = folder.path + "/ramfs"
        try FileManager.default.createDirectory(atPath: mountPoint, withIntermediateDirectories: true)
        // tmpfs takes O_DIRECT since Linux 6.6; ramfs still refuses it at the open (EINVAL).
        #expect(try SystemCommand.runBlocking(["mount", "-t", "ramfs", "-o", "mode=0700", "ramfs", mountPoint]).status == 0)
        defer { _ = try? SystemCommand.runBlocking(["umount", "-l", mountPoint]) }
        let store = try ObjectStore(root: mountPoint + "/data", blockSize: Self.mebi, directIO: true)
        let bytes = Self.content(9 * Self.mebi + 17)
        // ramfs reports no size at all (statvfs: 0 total, 0 free): the space check must not call it full (attack
        // finding: every object write was refused there).
        let writer = try store.beginWrite(user: "alice", id: "big", length: UInt64(bytes.count))
        #expect(!writer.writesDirectly, "the open with O_DIRECT was refused")
        try Self.fill(writer, bytes)
        let reader = try store.openReader(user: "alice", id: "big", serving: true)
        #expect(!reader.readsDirectly)
        #expect(try reader.readAll() == bytes)
        #expect(store.directIO?.buffers.outCount == 0)
    }

    @Test("DirectIO: on, yes, off, no, absent (off); anything else is refused with its line")
    func configLine() throws {
        let folder = try TemporaryDirectory()
        defer { folder.remove() }
        let path = folder.path + "/dfs.conf"
        func load(_ line: String) throws -> NodeConfiguration {
            try "Server N1 127.0.0.1:10001\n\(line)\n".write(toFile: path, atomically: true, encoding: .utf8)
            return try NodeConfiguration.load(configFile: path, name: "N1", dataDirectory: folder.path + "/data")
        }
        #expect(try load("DirectIO: on").directIO)
        #expect(try load("DirectIO: on").startupSummary(address: "127.0.0.1:1", metrics: nil)
            .hasSuffix("; direct I/O for objects of 4 MiB or more"))
        #expect(try !load("DirectIO: off").startupSummary(address: "127.0.0.1:1", metrics: nil).contains("direct I/O"))
        #expect(try load("DirectIO: YES").directIO)
        #expect(try !load("DirectIO: off").directIO)
        #expect(try !load("DirectIO: no").directIO)
        #expect(try !load("# nothing").directIO)
        #expect(throws: NodeConfiguration.LoadError.self) { try load("DirectIO: maybe") }
    }

    @Test("a put and a get over TLS through a node with DirectIO on: byte-exact, written and read directly")
    func tlsRoundTrip() async throws {
        let node = try await TestNode { $0.directIO = true }
        do {
            let connection = try await node.connect()
            let bytes = Self.content(9 * Self.mebi + 17)
            try await connection.putObject("big", bytes: bytes)
            #expect(try await connection.getObject("big") == bytes)
            let small = Self.content(1000)
            try await connection.putObject("small", bytes: small)
            #expect(try await connection.getObject("small") == small)
            #expect(try await connection.getObject("big", offset: UInt64(5 * Self.mebi + 3), length: 2 * UInt64(Self.mebi))
                    == Array(bytes[(5 * Self.mebi + 3)..<(7 * Self.mebi + 3)]))
            await connection.close()
            let store = node.node.store
            #expect(store.directIO != nil)
            #expect(try store.openReader(user: "alice", id: "big", serving: true).readsDirectly)
            #expect(store.directIO?.buffers.outCount == 0)
            #expect(node.temporaryFiles().isEmpty)
        } catch {
            await node.stop()
            throw error
        }
        await node.stop()
    }
}
