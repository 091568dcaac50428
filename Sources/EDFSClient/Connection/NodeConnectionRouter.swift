import EDFSCrypto
import EDFSFormat
import EDFSTransport
import NIOCore
import NIOSSL

/// Routes the frames of one connection to the requests waiting for them, by request id, on the event loop.
/// Allocates request ids (strictly increasing) and fails everything still waiting when the connection ends.
final class NodeConnectionRouter: Sendable {
    enum Route: Sendable {
        /// A request answered by one frame (its reply or an ERROR). PUTs wait here for their final answer.
        case reply(EventLoopPromise<WireFrame>)
        /// A GET: its reply, then DATA frames, then END.
        case download(DownloadStream)
    }

    private struct State {
        var routes: [UInt32: Route] = [:]
        var nextID: UInt32 = 1
        var failure: NodeConnectionError?
        /// A FATAL error the node sent for the connection (request id 0) before closing it.
        var fatal: WireError?
        var label: String
    }

    private let state: PthreadMutex<State>
    /// Bytes queued for writing but not yet written; writers wait on it. Closed when the connection ends.
    let writeBudget: AsyncAllowance
    /// Requests this connection may still start: one is taken per request and given back when its route is
    /// removed (its final frame arrived, or it was cancelled), so the node's announced `maxStreams` is never exceeded
    /// however many tasks share the connection (a node ends its count of a request before it sends the final frame,
    /// and a CANCEL before it reads the next frame). One until the HELLO reply announces the limit. Closed when the
    /// connection ends.
    let requestSlots = AsyncAllowance(1)

    init(label: String, writeBudget: AsyncAllowance) {
        state = PthreadMutex(State(label: label))
        self.writeBudget = writeBudget
    }

    /// Raises the slots from the one the HELLO used to the node's announced limit.
    func allowRequests(_ maxStreams: UInt16) { requestSlots.add(max(0, Int(maxStreams) - 1)) }

    /// "NAME (HOST:PORT)" once the node's name is known, "HOST:PORT" before.
    var label: String { state.withLock { $0.label } }
    func setLabel(_ label: String) { state.withLock { $0.label = label } }

    /// Why the connection ended, once it has.
    var failure: NodeConnectionError? { state.withLock { $0.failure } }

    /// Registers a new request under the next id; throws once the connection has ended.
    func register(_ makeRoute: (UInt32) -> Route) throws(NodeConnectionError) -> UInt32 {
        try state.withLock { (s: inout State) throws(NodeConnectionError) -> UInt32 in
            if let failure = s.failure { throw failure }
            guard s.nextID < UInt32.max else { throw .closed(node: s.label, reason: "request ids exhausted") }
            let id = s.nextID
            s.nextID += 1
            s.routes[id] = makeRoute(id)
            return id
        }
    }

    /// Forgets a request (done, or cancelled by the caller) and gives its slot back; returns its route if it was
    /// still waiting.
    @discardableResult
    func remove(_ id: UInt32) -> Route? {
        let route = state.withLock { $0.routes.removeValue(forKey: id) }
        if route != nil { requestSlots.add(1) }
        return route
    }

    /// Delivers one inbound frame. Returns a protocol violation if the frame breaks the protocol; the caller then
    /// fails everything and closes.
    func deliver(_ frame: WireFrame) -> NodeConnectionError? {
        let id = frame.requestID
        if id == 0 {
            guard frame.type == .error, let wire = try? WireError.decode(payload: frame.payloadBytes, flags: frame.header.flags)
            else { return violation("a \(frame.type) frame for request 0") }
            state.withLock { $0.fatal = wire }
            return nil
        }
        let found = state.withLock { s -> (Route?, Bool) in (s.routes[id], id < s.nextID) }
        guard let route = found.0 else {
            return found.1 ? nil : violation("a \(frame.type) frame for request \(id), which was never made")
        }
        switch route {
        case let .reply(promise):
            guard frame.type == .error || frame.type.isReply else {
                return violation("a \(frame.type) frame for request \(id), which expects one reply")
            }
            remove(id)
            if frame.type == .error {
                guard let wire = try? WireError.decode(payload: frame.payloadBytes, flags: frame.header.flags) else {
                    return violation("a malformed ERROR frame")
                }
                promise.fail(NodeLinkError(wire))
            } else {
                promise.succeed(frame)
            }
            return nil
        case let .download(stream):
            switch stream.deliver(frame) {
            case .more:
                return nil
            case .finished:
                remove(id)
                return nil
            case let .violation(reason):
                remove(id)
                let error = violation(reason)
                stream.fail(error)
                return error
            }
        }
    }

    private func violation(_ reason: String) -> NodeConnectionError { .protocolViolation(node: label, reason: reason) }

    /// Ends the connection for every waiting request: with `error`, or (nil) with the node's FATAL error or
    /// "closed by the node".
    func failAll(_ error: NodeConnectionError?) {
        let (failure, routes) = state.withLock { s -> (NodeConnectionError, [Route]) in
            if s.failure == nil {
                s.failure = error ?? .closed(node: s.label, reason: s.fatal.map { "\($0)" } ?? "closed by the node")
            }
            defer { s.routes.removeAll() }
            return (s.failure ?? .closed(node: s.label, reason: "closed"), Array(s.routes.values))
        }
        writeBudget.close()
        requestSlots.close()
        for route in routes {
            switch route {
            case let .reply(promise): promise.fail(failure)
            case let .download(stream): stream.fail(failure)
            }
        }
    }

    /// The connection error for an error the pipeline raised.
    func connectionError(for error: any Error) -> NodeConnectionError {
        switch error {
        case let wire as WireError: return .protocolViolation(node: label, reason: wire.description)
        case is NIOSSLError, is NIOSSLExtraError, is BoringSSLError:
            return .tlsFailed(node: label, reason: ConnectionFailureText.tls(error))
        default: return .closed(node: label, reason: "\(error)")
        }
    }
}
