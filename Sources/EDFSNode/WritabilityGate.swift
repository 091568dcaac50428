import EDFSCrypto
import NIOCore

/// Whether a connection takes more output now (NIO's writability, kept by `WritabilityHandler`). A GET waits on it
/// before it reads a block, so the node reads ahead for a connection only while its write buffer is below the high
/// water mark: a peer that stops reading holds at most its write buffer, never the node's read budget.
final class WritabilityGate: Sendable {
    private struct State {
        var writable = true
        var closed = false
        var waiters: [UInt64: CheckedContinuation<Bool, Never>] = [:]
        var nextID: UInt64 = 0
    }

    private let state = PthreadMutex(State())

    /// Records the channel's writability (event loop); waking waiters when it turns writable.
    func set(writable: Bool) {
        let ready = state.withLock { s -> [CheckedContinuation<Bool, Never>] in
            s.writable = writable
            guard writable else { return [] }
            defer { s.waiters.removeAll() }
            return Array(s.waiters.values)
        }
        for waiter in ready { waiter.resume(returning: true) }
    }

    /// The connection ended: every wait, now and later, returns false.
    func close() {
        let waiters = state.withLock { s -> [CheckedContinuation<Bool, Never>] in
            s.closed = true
            defer { s.waiters.removeAll() }
            return Array(s.waiters.values)
        }
        for waiter in waiters { waiter.resume(returning: false) }
    }

    /// Waits until the channel is writable; false once the connection ended or the task was cancelled.
    func waitUntilWritable() async -> Bool {
        let id = state.withLock { s -> UInt64 in
            s.nextID += 1
            return s.nextID
        }
        return await withTaskCancellationHandler {
            await withCheckedContinuation { (continuation: CheckedContinuation<Bool, Never>) in
                let now = state.withLock { s -> Bool? in
                    if s.closed || Task.isCancelled { return false }
                    if s.writable { return true }
                    s.waiters[id] = continuation
                    return nil
                }
                if let now { continuation.resume(returning: now) }
            }
        } onCancel: {
            let waiter = state.withLock { $0.waiters.removeValue(forKey: id) }
            waiter?.resume(returning: false)
        }
    }
}

/// Feeds a connection's writability changes and its end to a `WritabilityGate`.
final class WritabilityHandler: ChannelInboundHandler {
    typealias InboundIn = NIOAny
    private let gate: WritabilityGate

    init(_ gate: WritabilityGate) { self.gate = gate }

    func channelWritabilityChanged(context: ChannelHandlerContext) {
        gate.set(writable: context.channel.isWritable)
        context.fireChannelWritabilityChanged()
    }

    func channelInactive(context: ChannelHandlerContext) {
        gate.close()
        context.fireChannelInactive()
    }
}
