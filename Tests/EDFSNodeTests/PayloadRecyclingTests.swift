import EDFSFormat
import EDFSTransport
import NIOCore
import NIOEmbedded
import Testing

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
}
