import EDFSFormat
import EDFSTransport
import NIOCore

/// Closes the connection when the idle timer fires.
final class IdleCloser: ChannelInboundHandler {
    typealias InboundIn = WireFrame
    typealias InboundOut = WireFrame

    func userInboundEventTriggered(context: ChannelHandlerContext, event: Any) {
        if event is IdleStateHandler.IdleStateEvent {
            context.close(promise: nil)
            return
        }
        context.fireUserInboundEventTriggered(event)
    }
}
