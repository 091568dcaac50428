import EDFSFormat
import EDFSTransport
import NIOCore

/// How one session's frames leave the node: in order through the connection's async writer, a request's final
/// frame only by whoever finishes the request in the `NodeRequestTable`. Every frame but a GET's DATA passes the
/// session's `RequestMeter`, which counts a request when its final frame leaves.
struct SessionOutput: Sendable {
    let channel: any Channel
    let outbound: NIOAsyncChannelOutboundWriter<WireFrame>
    let table: NodeRequestTable
    /// The session's requests not answered yet, for the request metrics.
    let meter: RequestMeter
    /// Whether the connection takes more output now (GETs read a block only then).
    let writability: WritabilityGate
    /// One unit: the GET of this connection that is reading a block and handing it to the channel.
    let sendSlot = AsyncAllowance(1)

    /// Writes a frame; a connection that is gone is ignored (the reader loop notices and ends).
    func send(_ frame: WireFrame) async {
        meter.observe(frame)
        try? await outbound.write(frame)
    }

    /// Sends the final frame of a request unless it was cancelled or the connection ended meanwhile.
    func finish(_ id: UInt32, with frame: WireFrame) async {
        if table.finish(id) { await send(frame) }
    }

    /// The success frame of `reply` for request `id` (an `internal` ERROR if it does not encode).
    static func frame(_ reply: WireReply, _ id: UInt32) -> WireFrame {
        do throws(WireError) {
            return WireFrame(type: reply.frameType, requestID: id, payload: ByteBuffer(bytes: try reply.encodePayload()))
        } catch {
            return .error(WireError(.internal, "reply does not encode: \(error)"), requestID: id)
        }
    }

    /// Writes a connection's last frame and waits until it is on the wire (at most
    /// `lastFrameGrace`, then the connection is closed), so that closing right after does not
    /// drop it.
    static func sendLast(_ frame: WireFrame, on channel: any Channel) async {
        try? await writeLast(frame, on: channel).get()
    }

    /// `sendLast` for callers on the event loop: the future completes once the frame is written or the grace ended.
    static func writeLast(_ frame: WireFrame, on channel: any Channel) -> EventLoopFuture<Void> {
        let grace = ConnectionDeadline(on: channel, after: lastFrameGrace) { channel.close(promise: nil) }
        return channel.writeAndFlush(frame).always { _ in grace.cancel() }
    }

    /// How long a connection's last frame may take to reach the wire before the connection is closed anyway.
    static let lastFrameGrace: Duration = .seconds(2)
}
