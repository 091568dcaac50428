import EDFSFormat
import EDFSTransport
import NIOCore

/// Hands every inbound frame and the connection's end to the router, on the event loop.
final class ClientFrameRouterHandler: ChannelInboundHandler {
    typealias InboundIn = WireFrame
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
