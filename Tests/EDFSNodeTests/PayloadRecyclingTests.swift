import EDFSFormat
import EDFSTransport
import NIOCore
import NIOEmbedded
import Testing
#if canImport(Glibc)
import Glibc
#endif

/// The frame decoder assembles large DATA payloads in buffers their consumer gave back (PayloadRecycler), so a node
/// receiving a put does not map a fresh megabyte per frame (docs/PERFORMANCE.md).
@Suite struct PayloadRecyclingTests {
    /// The bytes of one frame: its header and `count` payload bytes, each `fill`.
    static func frame(_ type: WireFrameType, id: UInt32 = 1, count: Int, fill: UInt8) -> ByteBuffer {
        var buffer = ByteBufferAllocator().buffer(capacity: WireProtocol.headerLength + count)
        buffer.writeWithUnsafeMutableBytes(minimumWritableBytes: WireProtocol.headerLength) { raw in
            WireFrameHeader(type: type, requestID: id, payloadLength: count).encode(into: raw)
            return WireProtocol.headerLength
        }
        buffer.writeRepeatingByte(fill, count: count)
        return buffer
    }

    /// `count` bytes of `fill` (compared with `==`, a memcmp: a byte-by-byte check of megabytes is seconds of CPU in a
    /// debug build, enough to starve the timing-bound tests running beside this suite).
    static func filled(_ fill: UInt8, count: Int) -> ByteBuffer {
        var buffer = ByteBufferAllocator().buffer(capacity: count)
        buffer.writeRepeatingByte(fill, count: count)
        return buffer
    }

    static func address(_ buffer: ByteBuffer) -> UInt {
        buffer.withUnsafeReadableBytes { UInt(bitPattern: $0.baseAddress) }
    }

    @Test("a given-back buffer carries the next large DATA payload; a short DATA keeps the stream; another frame ends it")
    func recycledBuffers() throws {
        let recycler = PayloadRecycler()
        let channel = EmbeddedChannel(handler: WireFrameDecoder(maxLengthField: 4 << 20, recycler: recycler))
        defer { _ = try? channel.finish() }

        try channel.writeInbound(Self.frame(.data, count: 1 << 20, fill: 0xA1))
        var first: WireFrame? = try #require(try channel.readInbound(as: WireFrame.self))
        let firstAddress = try Self.address(#require(first?.payload))
        recycler.recycle(try #require(first?.payload))
        first = nil  // the consumer lets go of it
        #expect(recycler.heldCount == 1)

        // A short DATA frame (a batch's tail) neither takes nor drops the held buffer.
        try channel.writeInbound(Self.frame(.data, count: 64, fill: 0xB2))
        #expect(try channel.readInbound(as: WireFrame.self)?.payload.readableBytes == 64)
        #expect(recycler.heldCount == 1)

        try channel.writeInbound(Self.frame(.data, count: 1 << 20, fill: 0xC3))
        let second = try #require(try channel.readInbound(as: WireFrame.self))
        #expect(Self.address(second.payload) == firstAddress, "the same memory, not a new buffer")
        #expect(second.payload.readableBytes == 1 << 20)
        #expect(second.payload == Self.filled(0xC3, count: 1 << 20), "only the new frame's bytes")
        #expect(recycler.heldCount == 0)

        // Given back while another frame still holds it (a consumer that kept a copy): the next payload gets its own
        // memory, and the copy is never written.
        let kept = second.payload
        recycler.recycle(second.payload)
        try channel.writeInbound(Self.frame(.data, count: 1 << 20, fill: 0xD4))
        let third = try #require(try channel.readInbound(as: WireFrame.self))
        #expect(Self.address(third.payload) != Self.address(kept))
        #expect(kept == Self.filled(0xC3, count: 1 << 20) && third.payload == Self.filled(0xD4, count: 1 << 20))

        // A frame other than DATA ends the stream: what is held is dropped, and nothing is kept until the next one.
        recycler.recycle(third.payload)
        #expect(recycler.heldCount == 1)
        try channel.writeInbound(Self.frame(.end, count: 0, fill: 0))
        #expect(try channel.readInbound(as: WireFrame.self)?.header.type == .end)
        #expect(recycler.heldCount == 0)
        recycler.recycle(third.payload)
        #expect(recycler.heldCount == 0, "a connection between streams holds no buffer")
    }

    @Test("a pool block given back is handed out again; at most the limit are kept")
    func blockPool() throws {
        let pool = MemoryBlockPool(blockSize: 4096, limit: 2)
        let first = try #require(pool.take())
        pool.give(first)
        #expect(pool.keptCount == 1)
        let again = try #require(pool.take())
        #expect(again == first, "the kept block, not a new one")
        let others = try (0..<3).map { _ in try #require(pool.take()) }
        for block in others + [again] { pool.give(block) }
        #expect(pool.keptCount == 2, "the blocks beyond the limit are freed")
        while pool.keptCount > 0 { _ = pool.take().map { free($0) } }
    }

    @Test("an aligned pool with a bound on blocks out (direct I/O's buffers): aligned blocks, nil beyond the bound")
    func boundedAlignedPool() throws {
        let pool = MemoryBlockPool(blockSize: 8192, alignment: 4096, limit: 2, maxOut: 2)
        let first = try #require(pool.takeBuffer())
        let second = try #require(pool.takeBuffer())
        for buffer in [first, second] {
            #expect(buffer.count == 8192 && UInt(bitPattern: buffer.baseAddress) % 4096 == 0)
        }
        #expect(pool.takeBuffer() == nil && pool.outCount == 2, "no third block while two are out")
        pool.give(second)
        #expect(pool.takeBuffer()?.baseAddress == second.baseAddress, "the kept block, not a new one")
        pool.give(first)
        pool.give(second)
        #expect(pool.outCount == 0 && pool.keptCount == 2)
    }

    @Test("the node's payload allocator: full DATA payloads in pool blocks, byte-exact, never written while held")
    func pooledPayloads() throws {
        let channel = EmbeddedChannel(handler: WireFrameDecoder(maxLengthField: 4 << 20,
                                                                payloadAllocator: PayloadBlocks.allocator))
        defer { _ = try? channel.finish() }
        // A consumer that still holds a payload (a frame waiting for its pwrite) while the next ones arrive.
        try channel.writeInbound(Self.frame(.data, count: 1 << 20, fill: 0xA1))
        let held = try #require(try channel.readInbound(as: WireFrame.self)).payload
        for (index, fill) in [UInt8](arrayLiteral: 0xB2, 0xC3).enumerated() {
            try channel.writeInbound(Self.frame(.data, count: 1 << 20, fill: fill))
            let frame = try #require(try channel.readInbound(as: WireFrame.self))
            #expect(frame.payload.readableBytes == 1 << 20)
            #expect(Self.address(frame.payload) != Self.address(held))
            #expect(frame.payload == Self.filled(fill, count: 1 << 20), "frame \(index): only its own bytes")
            // The frame is dropped here: its block goes back to the pool for the next one.
        }
        #expect(held == Self.filled(0xA1, count: 1 << 20), "a held payload is never overwritten")
        #expect(PayloadBlocks.pool.keptCount <= PayloadBlocks.pool.limit)
        // Sizes around the block: a short tail, a payload of half a block (plain malloc) and one just over it
        // (a block), and a large non-DATA frame beyond the block (plain malloc): each byte-exact.
        for count in [64, 512 << 10, (512 << 10) + 1, (1 << 20) - 1, 3 << 20] {
            let type: WireFrameType = count > 1 << 20 ? .putManifest : .data
            try channel.writeInbound(Self.frame(type, count: count, fill: 0x5A))
            let frame = try #require(try channel.readInbound(as: WireFrame.self))
            #expect(frame.payload == Self.filled(0x5A, count: count))
        }
        // A payload buffer grown past its block (a consumer writing more into it) keeps its bytes.
        try channel.writeInbound(Self.frame(.data, count: 1 << 20, fill: 0x77))
        var grown = try #require(try channel.readInbound(as: WireFrame.self)).payload
        grown.writeRepeatingByte(0x78, count: 4096)
        #expect(grown.readableBytes == (1 << 20) + 4096)
        var expected = Self.filled(0x77, count: 1 << 20)
        expected.writeRepeatingByte(0x78, count: 4096)
        #expect(grown == expected)
    }
}
