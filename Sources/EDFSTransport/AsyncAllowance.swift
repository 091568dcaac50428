import EDFSCrypto

/// The credit and budget primitive of the protocol (no I/O): a count of units (bytes of GET credit, bytes of
/// buffer budget) that tasks take and give back, waiting while too few are available.
/// Waiters are served first come, first served; a cancelled or closed wait throws.
public final class AsyncAllowance: Sendable {
    /// Thrown to waiters once the allowance is closed.
    public struct Closed: Error, CustomStringConvertible {
        public var description: String { "the stream was closed" }
    }

    private struct Waiter {
        let id: UInt64
        let minimum: Int
        let maximum: Int
        let continuation: CheckedContinuation<Int, any Error>
    }

    private struct State {
        var available: Int
        var waiters: [Waiter] = []
        var nextID: UInt64 = 0
        var closed = false

        /// Hands units to waiters at the head of the queue while they can be served.
        mutating func serve() -> [(CheckedContinuation<Int, any Error>, Int)] {
            var ready: [(CheckedContinuation<Int, any Error>, Int)] = []
            while let first = waiters.first, available >= first.minimum {
                let take = min(available, first.maximum)
                available -= take
                waiters.removeFirst()
                ready.append((first.continuation, take))
            }
            return ready
        }
    }

    private let state: PthreadMutex<State>

    public init(_ initial: Int) { state = PthreadMutex(State(available: initial)) }

    /// Units available right now.
    public var available: Int { state.withLock { $0.available } }

    /// Gives units back (or grants new ones).
    public func add(_ count: Int) {
        let ready = state.withLock { s -> [(CheckedContinuation<Int, any Error>, Int)] in
            s.available += count
            return s.serve()
        }
        for (continuation, take) in ready { continuation.resume(returning: take) }
    }

    /// Takes up to `maximum` units that are available now, without waiting (0 if none, or others are waiting).
    public func takeAvailable(maximum: Int) -> Int {
        state.withLock { s in
            guard s.waiters.isEmpty, !s.closed else { return 0 }
            let take = min(s.available, maximum)
            s.available -= take
            return take
        }
    }

    /// Waits until at least `minimum` units are available, then takes up to `maximum` of them.
    public func take(minimum: Int = 1, maximum: Int) async throws -> Int {
        precondition(minimum >= 1 && maximum >= minimum, "bad take bounds")
        let id = state.withLock { s -> UInt64 in
            s.nextID += 1
            return s.nextID
        }
        return try await withTaskCancellationHandler {
            try await withCheckedThrowingContinuation { (continuation: CheckedContinuation<Int, any Error>) in
                let outcome = state.withLock { s -> Result<Int, any Error>? in
                    if s.closed { return .failure(Closed()) }
                    if Task.isCancelled { return .failure(CancellationError()) }
                    if s.waiters.isEmpty, s.available >= minimum {
                        let take = min(s.available, maximum)
                        s.available -= take
                        return .success(take)
                    }
                    s.waiters.append(Waiter(id: id, minimum: minimum, maximum: maximum, continuation: continuation))
                    return nil
                }
                if let outcome { continuation.resume(with: outcome) }
            }
        } onCancel: {
            let removed = state.withLock { s -> (CheckedContinuation<Int, any Error>?, [(CheckedContinuation<Int, any Error>, Int)]) in
                guard let index = s.waiters.firstIndex(where: { $0.id == id }) else { return (nil, []) }
                let waiter = s.waiters.remove(at: index)
                return (waiter.continuation, s.serve())
            }
            removed.0?.resume(throwing: CancellationError())
            for (continuation, take) in removed.1 { continuation.resume(returning: take) }
        }
    }

    /// Fails every current and future wait with `Closed`.
    public func close() {
        let waiters = state.withLock { s -> [Waiter] in
            s.closed = true
            defer { s.waiters.removeAll() }
            return s.waiters
        }
        for waiter in waiters { waiter.continuation.resume(throwing: Closed()) }
    }
}
