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
        #expect(second.payload.readableBytesView.allSatisfy { $0 == 0xC3 }, "only the new frame's bytes")
        #expect(recycler.heldCount == 0)

        // Given back while another frame still holds it (a consumer that kept a copy): the next payload gets its own
        // memory, and the copy is never written.
        let kept = second.payload
        recycler.recycle(second.payload)
        try channel.writeInbound(Self.frame(.data, count: 1 << 20, fill: 0xD4))
        let third = try #require(try channel.readInbound(as: WireFrame.self))
        #expect(Self.address(third.payload) != Self.address(kept))
        #expect(kept.readableBytesView.allSatisfy { $0 == 0xC3 } && third.payload.readableBytesView.allSatisfy { $0 == 0xD4 })

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
        let pool = PayloadBlockPool(byteLimit: 8192)
        let first = try #require(pool.take(size: 4096))
        pool.give(first, size: 4096)
        #expect(pool.keptBytes == 4096)
        #expect(pool.take(size: 2048).map { block in defer { free(block) }; return block != first } == true,
                "a block of another size is not handed out for it")
        let again = try #require(pool.take(size: 4096))
        #expect(again == first, "the kept block, not a new one")
        let others = try (0..<3).map { _ in try #require(pool.take(size: 4096)) }
        for block in others + [again] { pool.give(block, size: 4096) }
        #expect(pool.keptBytes == 8192, "the blocks beyond the limit are freed")
        while pool.keptBytes > 0 { _ = pool.take(size: 4096).map { free($0) } }
    }

    @Test("the node's payload allocator: full DATA payloads in pool blocks, byte-exact, never written while held")
    func pooledPayloads() throws {
        let channel = EmbeddedChannel(handler: WireFrameDecoder(maxLengthField: 4 << 20,
                                                                payloadAllocator: PayloadBlocks.allocator))
        defer { _ = try? channel.finish() }
        // A consumer that still holds a payload (a frame waiting for its pwrite) while the next ones arrive.
        try channel.writeInbound(Self.frame(.data, count: 1 << 20, fill: 0xA1))
        let held = try #require(try channel.readInbound(as: WireFrame.self)).payload
        for (index, fill) in [UInt8](arrayLiteral: 0xB2, 0xC3, 0xD4, 0xE5).enumerated() {
            try channel.writeInbound(Self.frame(.data, count: 1 << 20, fill: fill))
            let frame = try #require(try channel.readInbound(as: WireFrame.self))
            #expect(frame.payload.readableBytes == 1 << 20)
            #expect(Self.address(frame.payload) != Self.address(held))
            #expect(frame.payload.readableBytesView.allSatisfy { $0 == fill }, "frame \(index): only its own bytes")
            // The frame is dropped here: its block goes back to the pool for the next one.
        }
        #expect(held.readableBytesView.allSatisfy { $0 == 0xA1 }, "a held payload is never overwritten")
        #expect(PayloadBlocks.pool.keptBytes <= PayloadBlocks.pool.byteLimit)
        // Sizes around the block: a short tail, a payload of half a block (plain malloc) and one just over it
        // (a block), and a large non-DATA frame beyond the block (plain malloc): each byte-exact.
        for count in [64, 512 << 10, (512 << 10) + 1, (1 << 20) - 1, 3 << 20] {
            let type: WireFrameType = count > 1 << 20 ? .putManifest : .data
            try channel.writeInbound(Self.frame(type, count: count, fill: 0x5A))
            let frame = try #require(try channel.readInbound(as: WireFrame.self))
            #expect(frame.payload.readableBytes == count && frame.payload.readableBytesView.allSatisfy { $0 == 0x5A })
        }
        // A payload buffer grown past its block (a consumer writing more into it) keeps its bytes.
        try channel.writeInbound(Self.frame(.data, count: 1 << 20, fill: 0x77))
        var grown = try #require(try channel.readInbound(as: WireFrame.self)).payload
        grown.writeRepeatingByte(0x78, count: 4096)
        #expect(grown.readableBytes == (1 << 20) + 4096)
        #expect(grown.readableBytesView.prefix(1 << 20).allSatisfy { $0 == 0x77 })
        #expect(grown.readableBytesView.suffix(4096).allSatisfy { $0 == 0x78 })
    }

    @Test("the node's decoder passes large DATA payloads on as slices, in order, byte-exact, whatever the read sizes")
    func dataPieces() throws {
        let channel = EmbeddedChannel(handler: WireFrameDecoder(maxLengthField: 4 << 20, payloadAllocator: PayloadBlocks.allocator,
                                                                dataPieces: true))
        defer { _ = try? channel.finish() }
        // Two requests' large DATA frames, a short DATA frame, an END and a large non-DATA frame, in one stream with
        // a distinct byte at every position, cut into reads of odd sizes.
        var stream = ByteBuffer()
        var expected: [UInt32: [UInt8]] = [:]
        var counter: UInt8 = 0
        func add(_ type: WireFrameType, id: UInt32, count: Int) {
            var frame = ByteBufferAllocator().buffer(capacity: WireProtocol.headerLength + count)
            var bytes = [UInt8](repeating: 0, count: count)
            for index in bytes.indices { bytes[index] = counter; counter &+= 7 }
            frame.writeWithUnsafeMutableBytes(minimumWritableBytes: WireProtocol.headerLength) { raw in
                WireFrameHeader(type: type, requestID: id, payloadLength: count).encode(into: raw)
                return WireProtocol.headerLength
            }
            frame.writeBytes(bytes)
            stream.writeBuffer(&frame)
            if type == .data { expected[id, default: []] += bytes }
        }
        add(.data, id: 3, count: 1 << 20)
        add(.data, id: 5, count: (1 << 20) - 3)
        add(.data, id: 3, count: 64)
        add(.data, id: 3, count: 200_000)
        add(.end, id: 3, count: 0)
        add(.putManifest, id: 7, count: 100_000)
        var received: [UInt32: [UInt8]] = [:]
        var types: [WireFrameType] = []
        var reads = [4096, 13, 300_000, 1 << 20, 77_777]
        while stream.readableBytes > 0 {
            let size = min(reads.first ?? stream.readableBytes, stream.readableBytes)
            reads = Array(reads.dropFirst()) + [size]
            guard let piece = stream.readSlice(length: size) else { break }
            var read = ByteBufferAllocator().buffer(capacity: size)
            read.writeImmutableBuffer(piece)
            try channel.writeInbound(read)
            while let frame = try channel.readInbound(as: WireFrame.self) {
                #expect(frame.header.payloadLength == frame.payload.readableBytes)
                if frame.type == .data { received[frame.requestID, default: []] += Array(frame.payload.readableBytesView) }
                if types.last != frame.type || frame.type != .data { types.append(frame.type) }
                if frame.type == .putManifest { #expect(frame.payload.readableBytes == 100_000) }
            }
        }
        #expect(received == expected, "each request's bytes, in order")
        #expect(types == [.data, .end, .putManifest])
        // A stream ending inside a large DATA frame is still an error.
        try channel.writeInbound(Self.frame(.data, id: 9, count: 1 << 20, fill: 1).getSlice(at: 0, length: 1000)!)
        _ = try channel.readInbound(as: WireFrame.self)
        #expect(throws: WireError.self) { try channel.finish() }
    }
}
