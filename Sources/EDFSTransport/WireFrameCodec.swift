import EDFSFormat
import NIOCore

/// One frame on a connection, client or node side: its header and its payload (a slice of what was read, or what
/// to send). The byte layout is EDFSFormat's `WireFrameHeader` (docs/PROTOCOL.md).
public struct WireFrame: Sendable {
    public var header: WireFrameHeader
    public var payload: ByteBuffer

    public init(type: WireFrameType, flags: WireFlags = [], requestID: UInt32, payload: ByteBuffer) {
        header = WireFrameHeader(type: type, flags: flags, requestID: requestID, payloadLength: payload.readableBytes)
        self.payload = payload
    }

    public init(header: WireFrameHeader, payload: ByteBuffer) {
        self.header = header
        self.payload = payload
    }

    public var type: WireFrameType { header.type }
    public var requestID: UInt32 { header.requestID }
    /// The payload as bytes (a copy).
    public var payloadBytes: [UInt8] { payload.getBytes(at: payload.readerIndex, length: payload.readableBytes) ?? [] }

    /// An ERROR frame for `error` (FATAL if it is).
    public static func error(_ error: WireError, requestID: UInt32) -> WireFrame {
        WireFrame(type: .error, flags: error.fatal ? .fatal : [], requestID: requestID,
                       payload: ByteBuffer(bytes: error.encodedPayload))
    }
}

/// Splits the inbound byte stream into frames, refusing a length over `maxLengthField` before reading its payload.
/// Each payload is copied once into a buffer of its own: for a large one, from `payloadAllocator` when given (the
/// node's: `PayloadBlocks`, whose blocks are reused once their holders let go), else one its consumer gave back to
/// `recycler` (the client's), else a new one of exactly its size. The incoming buffer is never retained, so NIOSSL
/// can reuse its plaintext buffer without a copy-on-write (a retained slice makes it allocate a fresh plaintext
/// buffer, of up to a few MiB, for the next read), and nothing is ever compacted. Errors are `WireError`s.
public final class WireFrameDecoder: ChannelInboundHandler {
    public typealias InboundIn = ByteBuffer
    public typealias InboundOut = WireFrame
    public let maxLengthField: Int
    private var headerBytes: [UInt8] = []
    private var header: WireFrameHeader?
    private var payload = ByteBuffer()
    private var failed = false
    private let recycler: PayloadRecycler?
    private let payloadAllocator: ByteBufferAllocator?

    public init(maxLengthField: Int, recycler: PayloadRecycler? = nil, payloadAllocator: ByteBufferAllocator? = nil) {
        self.maxLengthField = maxLengthField
        self.recycler = recycler
        self.payloadAllocator = payloadAllocator
        headerBytes.reserveCapacity(WireProtocol.headerLength)
    }

    public func channelRead(context: ChannelHandlerContext, data: NIOAny) {
        guard !failed else { return }
        var input = unwrapInboundIn(data)
        do {
            while input.readableBytes > 0 || header?.payloadLength == 0 {
                if let current = header {
                    let count = min(current.payloadLength - payload.readableBytes, input.readableBytes)
                    if count > 0, let piece = input.readSlice(length: count) { payload.writeImmutableBuffer(piece) }
                    guard payload.readableBytes == current.payloadLength else { continue }
                    let frame = WireFrame(header: current, payload: payload)
                    header = nil
                    payload = ByteBuffer()
                    context.fireChannelRead(wrapInboundOut(frame))
                    if failed { return }
                } else {
                    let count = min(WireProtocol.headerLength - headerBytes.count, input.readableBytes)
                    headerBytes += input.readBytes(length: count) ?? []
                    let maxLength = maxLengthField
                    guard let parsed = try headerBytes.withUnsafeBytes({ (raw: UnsafeRawBufferPointer) throws(WireError) in
                        try WireFrameHeader.decode(raw, maxLengthField: maxLength)
                    }) else { continue }
                    headerBytes.removeAll(keepingCapacity: true)
                    header = parsed
                    payload = buffer(for: parsed, allocator: context.channel.allocator)
                }
            }
        } catch {
            failed = true
            context.fireErrorCaught(error)
        }
    }

    /// The buffer the payload of the frame `header` starts is assembled in. A frame other than DATA ends a stream of
    /// large frames (a short DATA frame, the tail of a batch, does not).
    private func buffer(for header: WireFrameHeader, allocator: ByteBufferAllocator) -> ByteBuffer {
        let capacity = header.payloadLength
        if let payloadAllocator, capacity >= PayloadRecycler.minimumPayload {
            return payloadAllocator.buffer(capacity: capacity)
        }
        guard let recycler else { return allocator.buffer(capacity: capacity) }
        guard capacity >= PayloadRecycler.minimumPayload else {
            if header.type != .data { recycler.endStream() }
            return allocator.buffer(capacity: capacity)
        }
        return recycler.take(capacity: capacity) ?? allocator.buffer(capacity: capacity)
    }

    public func channelInactive(context: ChannelHandlerContext) {
        if !failed, header != nil || !headerBytes.isEmpty {
            failed = true
            context.fireErrorCaught(WireError(.malformed, "connection ended inside a frame", fatal: true))
        }
        context.fireChannelInactive()
    }
}

/// Writes frames: small ones as one buffer, large ones as header + payload without copying the payload.
public final class WireFrameEncoder: ChannelOutboundHandler {
    public typealias OutboundIn = WireFrame
    public typealias OutboundOut = ByteBuffer
    /// Payloads up to this size are copied behind the header into one buffer (one TLS record instead of two).
    public static let coalesceLimit = 16 << 10

    public init() {}

    public func write(context: ChannelHandlerContext, data: NIOAny, promise: EventLoopPromise<Void>?) {
        let frame = unwrapOutboundIn(data)
        var header = context.channel.allocator.buffer(capacity: WireProtocol.headerLength
            + (frame.payload.readableBytes <= Self.coalesceLimit ? frame.payload.readableBytes : 0))
        header.writeWithUnsafeMutableBytes(minimumWritableBytes: WireProtocol.headerLength) { raw in
            frame.header.encode(into: raw)
            return WireProtocol.headerLength
        }
        if frame.payload.readableBytes <= Self.coalesceLimit {
            var payload = frame.payload
            header.writeBuffer(&payload)
            context.write(wrapOutboundOut(header), promise: promise)
        } else {
            context.write(wrapOutboundOut(header), promise: nil)
            context.write(wrapOutboundOut(frame.payload), promise: promise)
        }
    }
}

