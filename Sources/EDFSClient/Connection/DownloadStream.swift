import EDFSCrypto
import EDFSFormat
import EDFSTransport
import NIOCore

/// The receiving end of one GET: the reply, then DATA frames within the credit granted, then END.
/// Fed on the event loop by the router; read by one consumer at a time through `next()`.
final class DownloadStream: Sendable {
    enum Delivery {
        case more
        case finished
        case violation(String)
    }

    struct Header: Sendable {
        let objectLength: UInt64
        let sendLength: UInt64
    }

    private struct State {
        var header: EventLoopPromise<Header>?
        var expected: UInt64 = 0
        var received: UInt64 = 0
        var chunks: [ByteBuffer] = []
        var head = 0
        /// Bytes the node may still send without more WINDOW.
        var credit: Int
        var consumedSinceGrant = 0
        /// Set by END, ERROR, a failed connection or cancel; delivered after the buffered chunks.
        var end: Result<Void, any Error>?
        var waiter: CheckedContinuation<(ByteBuffer?, Int), any Error>?
    }

    private let state: PthreadMutex<State>
    /// Credit granted up front; more is granted each time a quarter of it has been consumed.
    let window: Int

    init(header: EventLoopPromise<Header>, window: Int) {
        self.window = window
        state = PthreadMutex(State(header: header, credit: window))
    }

    /// Takes the next buffered chunk, granting credit for what has been consumed.
    private func take(_ s: inout State) -> (ByteBuffer, Int)? {
        guard s.head < s.chunks.count else { return nil }
        let chunk = s.chunks[s.head]
        s.chunks[s.head] = ByteBuffer()  // release the consumed chunk now, not when the queue next runs empty
        s.head += 1
        if s.head == s.chunks.count {
            s.chunks.removeAll(keepingCapacity: true)
            s.head = 0
        } else if s.head >= 64 {
            s.chunks.removeFirst(s.head)  // a producer that stays ahead must not grow the array forever
            s.head = 0
        }
        s.consumedSinceGrant += chunk.readableBytes
        var grant = 0
        if s.consumedSinceGrant >= max(1, window / 4) {
            grant = s.consumedSinceGrant
            s.credit += grant
            s.consumedSinceGrant = 0
        }
        return (chunk, grant)
    }

    /// A frame for this GET (event loop).
    func deliver(_ frame: WireFrame) -> Delivery {
        var resume: (CheckedContinuation<(ByteBuffer?, Int), any Error>, Result<(ByteBuffer?, Int), any Error>)?
        var headerOutcome: (EventLoopPromise<Header>, Result<Header, any Error>)?
        let delivery = state.withLock { s -> Delivery in
            if frame.type == .error {
                guard let wire = try? WireError.decode(payload: frame.payloadBytes, flags: frame.header.flags) else {
                    return .violation("a malformed ERROR frame")
                }
                let error = NodeLinkError(wire)
                if let header = s.header {
                    s.header = nil
                    headerOutcome = (header, .failure(error))
                } else {
                    s.end = .failure(error)
                    if let waiter = s.waiter, s.head == s.chunks.count {
                        s.waiter = nil
                        resume = (waiter, .failure(error))
                    }
                }
                return .finished
            }
            if let header = s.header {
                guard frame.type == WireFrameType.getObject.reply,
                      case let .getObject(objectLength, sendLength)? = try? WireReply.decode(type: frame.type,
                                                                                              payload: frame.payloadBytes),
                      sendLength <= objectLength else {
                    return .violation("expected GET_OBJECT_OK, got \(frame.type)")
                }
                s.header = nil
                s.expected = sendLength
                headerOutcome = (header, .success(Header(objectLength: objectLength, sendLength: sendLength)))
                return .more
            }
            guard s.end == nil else { return .violation("\(frame.type) after the end of a GET") }
            switch frame.type {
            case .data:
                let count = frame.payload.readableBytes
                guard count > 0, s.received + UInt64(count) <= s.expected else {
                    return .violation("GET DATA beyond the announced length")
                }
                guard count <= s.credit else { return .violation("GET DATA beyond the granted window") }
                s.credit -= count
                s.received += UInt64(count)
                s.chunks.append(frame.payload)
                if let waiter = s.waiter, let taken = take(&s) {
                    s.waiter = nil
                    resume = (waiter, .success((taken.0, taken.1)))
                }
                return .more
            case .end:
                guard frame.payload.readableBytes == 0, s.received == s.expected else {
                    return .violation("GET END after \(s.received) of \(s.expected) bytes")
                }
                s.end = .success(())
                if let waiter = s.waiter, s.head == s.chunks.count {
                    s.waiter = nil
                    resume = (waiter, .success((nil, 0)))
                }
                return .finished
            default:
                return .violation("a \(frame.type) frame inside a GET")
            }
        }
        if let (promise, outcome) = headerOutcome { promise.completeWith(outcome) }
        if let (waiter, outcome) = resume { waiter.resume(with: outcome) }
        return delivery  // on a violation the router fails this stream and the connection
    }

    /// Ends the stream with `error` unless it already ended.
    func fail(_ error: any Error) {
        let (header, waiter) = state.withLock { s -> (EventLoopPromise<Header>?, CheckedContinuation<(ByteBuffer?, Int), any Error>?) in
            let header = s.header
            s.header = nil
            if s.end == nil { s.end = .failure(error) }
            let waiter = s.head == s.chunks.count ? s.waiter : nil
            if waiter != nil { s.waiter = nil }
            return (header, waiter)
        }
        header?.fail(error)
        waiter?.resume(throwing: error)
    }

    /// Bytes received and not yet taken by the consumer.
    var bufferedBytes: Int {
        state.withLock { s in s.chunks[s.head...].reduce(0) { $0 + $1.readableBytes } }
    }

    /// Abandons the stream: drops buffered chunks; true if it had not ended yet (the caller sends CANCEL).
    func cancel() -> Bool {
        let (wasOpen, waiter, header) = state.withLock { s -> (Bool, CheckedContinuation<(ByteBuffer?, Int), any Error>?, EventLoopPromise<Header>?) in
            let open = s.end == nil
            if open { s.end = .failure(CancellationError()) }
            s.chunks.removeAll()
            s.head = 0
            let waiter = s.waiter
            s.waiter = nil
            let header = s.header
            s.header = nil
            return (open, waiter, header)
        }
        header?.fail(CancellationError())
        waiter?.resume(throwing: CancellationError())
        return wasOpen
    }

    private enum Immediate {
        case value(ByteBuffer?, Int)
        case failure(any Error)
    }

    /// What the consumer gets without waiting: a buffered chunk, the end, or the failure; nil when it must wait.
    private func immediate(_ s: inout State) -> Immediate? {
        if let (chunk, grant) = take(&s) { return .value(chunk, grant) }
        switch s.end {
        case .success?: return .value(nil, 0)
        case let .failure(error)?: return .failure(error)
        case nil: return nil
        }
    }

    /// `next()` when it need not wait: the next chunk (nil inside after the last) and the credit to grant; nil when
    /// nothing is buffered yet.
    func nextIfReady() throws -> (ByteBuffer?, Int)? {
        switch state.withLock({ immediate(&$0) }) {
        case let .value(chunk, grant)?: return (chunk, grant)
        case let .failure(error)?: throw error
        case nil: return nil
        }
    }

    /// The next chunk (nil after the last) and the credit to grant the node for what was consumed.
    func next() async throws -> (ByteBuffer?, Int) {
        if let now = state.withLock({ immediate(&$0) }) {
            switch now {
            case let .value(chunk, grant): return (chunk, grant)
            case let .failure(error): throw error
            }
        }
        return try await withTaskCancellationHandler {
            try await withCheckedThrowingContinuation { (continuation: CheckedContinuation<(ByteBuffer?, Int), any Error>) in
                let now = state.withLock { s -> Immediate? in
                    if let now = self.immediate(&s) { return now }
                    if Task.isCancelled { return .failure(CancellationError()) }
                    s.waiter = continuation
                    return nil
                }
                switch now {
                case let .value(chunk, grant)?: continuation.resume(returning: (chunk, grant))
                case let .failure(error)?: continuation.resume(throwing: error)
                case nil: break
                }
            }
        } onCancel: {
            let waiter = state.withLock { s -> CheckedContinuation<(ByteBuffer?, Int), any Error>? in
                defer { s.waiter = nil }
                return s.waiter
            }
            waiter?.resume(throwing: CancellationError())
        }
    }
}
