/// Seconds a node may take to answer one request before it counts as unreachable for that request.
public enum RequestDeadline {
    /// The deadline of every per-node request (docs/ARCHITECTURE.md).
    public static let seconds: Double = 30
    /// Seconds a replica may go without delivering a byte before the next replica is tried.
    public static let replicaStallSeconds: Double = 30
}

/// Runs `operation`, or throws `NodeLinkError.unreachable` when it has not finished after `seconds`
/// (the operation is cancelled): a stalled node cannot hold a command forever.
func withDeadline<T: Sendable>(_ seconds: Double, _ what: String,
                               _ operation: @escaping @Sendable () async throws -> T) async throws -> T {
    try await withThrowingTaskGroup(of: T.self) { group in
        group.addTask { try await operation() }
        group.addTask {
            try await Task.sleep(nanoseconds: UInt64(seconds * 1e9))
            throw NodeLinkError.unreachable("\(what): no answer within \(Int(seconds)) s")
        }
        defer { group.cancelAll() }
        guard let first = try await group.next() else { throw CancellationError() }
        return first
    }
}
