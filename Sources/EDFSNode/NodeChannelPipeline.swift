import EDFSFormat
import EDFSTransport
import NIOCore
import NIOPosix
import NIOSSL

/// The channel handlers and options of every node connection, shared by the TLS listener and the in-process seam:
/// the byte counters of the node's metrics (`TrafficCounter`), TLS (listener only), idle timer, frame decoder with the node's frame limit, encoder, `IdleCloser`, and an
/// `NIOAsyncChannel` that stops reading the socket once `NodeLimits.inboundFrameBuffer` frames wait, and a
/// `WritabilityHandler` whose gate GETs wait on.
enum NodeChannelPipeline {
    /// Bytes queued for writing at which the channel turns unwritable (and writable again).
    static let writeBufferWaterMark = ChannelOptions.Types.WriteBufferWaterMark(low: 256 << 10, high: 1 << 20)
    /// Read buffers grow from 64 KiB up to 1 MiB.
    static let recvAllocator = AdaptiveRecvByteBufferAllocator(minimum: 1024, initial: 64 << 10, maximum: 1 << 20)

    /// Adds the handlers to `channel` (on its event loop) and wraps it; `tls` nil only for the in-process seam.
    static func configure(_ channel: any Channel, limits: NodeLimits, tls: NIOSSLContext?,
                          metrics: NodeMetrics) throws -> NodeChannel {
        let sync = channel.pipeline.syncOperations
        try sync.addHandler(TrafficCounter(metrics: metrics))
        if let tls { try sync.addHandler(NIOSSLServerHandler(context: tls)) }
        let writability = WritabilityGate()
        try sync.addHandler(WritabilityHandler(writability))
        try sync.addHandler(IdleStateHandler(allTimeout: TimeAmount(limits.idleTimeout)))
        try sync.addHandler(WireFrameDecoder(maxLengthField: limits.maxFrameLength,
                                             payloadAllocator: PayloadBlocks.allocator))
        try sync.addHandler(WireFrameEncoder())
        try sync.addHandler(IdleCloser())
        let frames = try NIOAsyncChannel<WireFrame, WireFrame>(
            wrappingChannelSynchronously: channel,
            configuration: .init(backPressureStrategy: .init(
                lowWatermark: 1, highWatermark: max(2, limits.inboundFrameBuffer))))
        return NodeChannel(frames: frames, writability: writability)
    }
}

/// One configured node connection: its frames and its writability gate.
struct NodeChannel: Sendable {
    let frames: NIOAsyncChannel<WireFrame, WireFrame>
    let writability: WritabilityGate
}
