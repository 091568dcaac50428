import CoreMetrics
import NIOCore

/// Counts the bytes a node connection reads from and writes to its socket (TLS records included: it sits at the
/// socket end of the pipeline) into `edfs_network_received_bytes_total` and `edfs_network_sent_bytes_total`.
final class TrafficCounter: ChannelDuplexHandler {
    typealias InboundIn = ByteBuffer
    typealias InboundOut = ByteBuffer
    typealias OutboundIn = ByteBuffer
    typealias OutboundOut = ByteBuffer

    private let received: CoreMetrics.Counter
    private let sent: CoreMetrics.Counter

    init(metrics: NodeMetrics) {
        received = metrics.networkReceived
        sent = metrics.networkSent
    }

    func channelRead(context: ChannelHandlerContext, data: NIOAny) {
        received.increment(by: unwrapInboundIn(data).readableBytes)
        context.fireChannelRead(data)
    }

    func write(context: ChannelHandlerContext, data: NIOAny, promise: EventLoopPromise<Void>?) {
        sent.increment(by: unwrapOutboundIn(data).readableBytes)
        context.write(data, promise: promise)
    }
}
