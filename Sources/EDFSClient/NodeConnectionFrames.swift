import EDFSFormat
import NIOCore

/// One frame on a client connection: header and payload (a slice of what was read, or what to send).
struct ClientFrame: Sendable {
    var header: WireFrameHeader
    var payload: ByteBuffer

    init(type: WireFrameType, requestID: UInt32, payload: ByteBuffer) {
        header = WireFrameHeader(type: type, requestID: requestID, payloadLength: payload.readableBytes)
        self.payload = payload
    }

    init(header: WireFrameHeader, payload: ByteBuffer) {
        self.header = header
        self.payload = payload
    }

    var type: WireFrameType { header.type }
    var requestID: UInt32 { header.requestID }
    var payloadBytes: [UInt8] { payload.getBytes(at: payload.readerIndex, length: payload.readableBytes) ?? [] }
}

/// Splits the inbound byte stream into frames, refusing a length over `maxLengthField` before reading its payload.
/// Each payload is copied once into a buffer of exactly its size; the incoming buffer is never retained, so NIOSSL
/// can reuse its plaintext buffer without a copy-on-write, and nothing is ever compacted. Errors are `WireError`s.
final class ClientFrameDecoder: ChannelInboundHandler {
    typealias InboundIn = ByteBuffer
    typealias InboundOut = ClientFrame
    let maxLengthField: Int
    private var headerBytes: [UInt8] = []
    private var header: WireFrameHeader?
    private var payload = ByteBuffer()
    private var failed = false

    init(maxLengthField: Int) {
        self.maxLengthField = maxLengthField
        headerBytes.reserveCapacity(WireProtocol.headerLength)
    }

    func channelRead(context: ChannelHandlerContext, data: NIOAny) {
        guard !failed else { return }
        var input = unwrapInboundIn(data)
        do {
            while input.readableBytes > 0 || header?.payloadLength == 0 {
                if let current = header {
                    let count = min(current.payloadLength - payload.readableBytes, input.readableBytes)
                    if count > 0, let piece = input.readSlice(length: count) { payload.writeImmutableBuffer(piece) }
                    guard payload.readableBytes == current.payloadLength else { continue }
                    let frame = ClientFrame(header: current, payload: payload)
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
                    payload = context.channel.allocator.buffer(capacity: parsed.payloadLength)
                }
            }
        } catch {
            failed = true
            context.fireErrorCaught(error)
        }
    }

    func channelInactive(context: ChannelHandlerContext) {
        if !failed, header != nil || !headerBytes.isEmpty {
            failed = true
            context.fireErrorCaught(WireError(.malformed, "connection ended inside a frame", fatal: true))
        }
        context.fireChannelInactive()
    }
}

/// Writes frames: small ones as one buffer, large ones as header + payload without copying the payload.
final class ClientFrameEncoder: ChannelOutboundHandler {
    typealias OutboundIn = ClientFrame
    typealias OutboundOut = ByteBuffer
    static let coalesceLimit = 16 << 10

    func write(context: ChannelHandlerContext, data: NIOAny, promise: EventLoopPromise<Void>?) {
        let frame = unwrapOutboundIn(data)
        let small = frame.payload.readableBytes <= Self.coalesceLimit
        var header = context.channel.allocator.buffer(
            capacity: WireProtocol.headerLength + (small ? frame.payload.readableBytes : 0))
        header.writeWithUnsafeMutableBytes(minimumWritableBytes: WireProtocol.headerLength) { raw in
            frame.header.encode(into: raw)
            return WireProtocol.headerLength
        }
        if small {
            var payload = frame.payload
            header.writeBuffer(&payload)
            context.write(wrapOutboundOut(header), promise: promise)
        } else {
            context.write(wrapOutboundOut(header), promise: nil)
            context.write(wrapOutboundOut(frame.payload), promise: promise)
        }
    }
}

/// Hands every inbound frame and the connection's end to the router, on the event loop.
final class ClientFrameRouterHandler: ChannelInboundHandler {
    typealias InboundIn = ClientFrame
    let router: NodeConnectionRouter

    init(router: NodeConnectionRouter) { self.router = router }

    func channelRead(context: ChannelHandlerContext, data: NIOAny) {
        if let violation = router.deliver(unwrapInboundIn(data)) {
            router.failAll(violation)
            context.close(promise: nil)
        }
    }

    func errorCaught(context: ChannelHandlerContext, error: any Error) {
        router.failAll(router.connectionError(for: error))
        context.close(promise: nil)
    }

    func channelInactive(context: ChannelHandlerContext) {
        router.failAll(nil)
        context.fireChannelInactive()
    }
}
