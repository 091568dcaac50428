import EDFSCrypto
import EDFSFormat
import EDFSTransport

/// The requests of one session that have not been answered yet, for the node's request metrics: a request is
/// counted once, when its final frame leaves (`observe`), the client cancels it, or the connection ends with it
/// unanswered. The final frame is an ERROR, an END (a GET), or the reply of any other request; DATA frames of a GET
/// do not pass here. Holds at most one entry per request in flight (bounded by `maxStreams` plus the replies being
/// sent).
final class RequestMeter: Sendable {
    private let metrics: NodeMetrics
    private let open = PthreadMutex<[UInt32: (type: RequestTypeLabel, began: ContinuousClock.Instant)]>([:])

    init(metrics: NodeMetrics) { self.metrics = metrics }

    /// Request `id` of `type` arrived.
    func begin(_ id: UInt32, _ type: RequestTypeLabel) {
        let now = ContinuousClock.now
        open.withLock { $0[id] = (type, now) }
    }

    /// A frame the session sends; settles its request when it is the final one.
    func observe(_ frame: WireFrame) {
        let id = frame.header.requestID
        guard id != 0 else { return }
        switch frame.header.type {
        case .error:
            let code = frame.payload.getInteger(at: frame.payload.readerIndex, as: UInt16.self)
            settle(id, code.map { RequestResultLabel(WireErrorCode(rawValue: $0)) } ?? .otherError)
        case .end:
            settle(id, .ok)
        case .data, .window:
            return
        default:
            // The reply of a GET comes before its DATA: the GET is settled by its END or ERROR.
            guard open.withLock({ $0[id]?.type }) != .getObject else { return }
            settle(id, .ok)
        }
    }

    /// The connection ends with `error` caused by request `id` (a FATAL error, sent as the connection's last frame);
    /// a frame that never became a request counts as an `unknown` request.
    func fail(_ id: UInt32, _ error: WireError) {
        if open.withLock({ $0[id] == nil }) { begin(id, .unknown) }
        settle(id, RequestResultLabel(error.code))
    }

    /// The client cancelled request `id`.
    func cancel(_ id: UInt32) { settle(id, .cancelled) }

    /// The connection ended: every request still open is counted as abandoned.
    func abandonAll() {
        let now = ContinuousClock.now
        let left = open.withLock { table in
            defer { table.removeAll() }
            return Array(table.values)
        }
        for entry in left { metrics.request(entry.type, .abandoned, duration: now - entry.began) }
    }

    private func settle(_ id: UInt32, _ result: RequestResultLabel) {
        guard let entry = open.withLock({ $0.removeValue(forKey: id) }) else { return }
        metrics.request(entry.type, result, duration: ContinuousClock.now - entry.began)
    }
}
