import NIOCore

/// The node's one timeout mechanism: a deadline on a connection's event loop that runs `expire` unless cancelled
/// first. Used for the login timeout and for the wait on a connection's last frame.
struct ConnectionDeadline: Sendable {
    private let scheduled: Scheduled<Void>

    /// Arms the deadline: `expire` runs on `channel`'s event loop after `duration`.
    init(on channel: any Channel, after duration: Duration, _ expire: @escaping @Sendable () -> Void) {
        scheduled = channel.eventLoop.scheduleTask(in: TimeAmount(duration)) { expire() }
    }

    /// Disarms the deadline (no effect once it expired).
    func cancel() { scheduled.cancel() }
}
