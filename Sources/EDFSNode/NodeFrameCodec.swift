import EDFSFormat
import EDFSTransport
import NIOCore

/// A frame in the node's pipeline (the shared codec's frame).
typealias NodeFrame = TransportFrame

/// Closes the connection when the idle timer fires.
final class IdleCloser: ChannelInboundHandler {
    typealias InboundIn = NodeFrame
    typealias InboundOut = NodeFrame

    func userInboundEventTriggered(context: ChannelHandlerContext, event: Any) {
        if event is IdleStateHandler.IdleStateEvent {
            context.close(promise: nil)
            return
        }
        context.fireUserInboundEventTriggered(event)
    }
}
