import Dispatch

/// Runs blocking work (file reads, sealing with `concurrentPerform`) on a Dispatch thread, so Swift's cooperative
/// threads — which the network code resumes on — are never held by it.
func runBlocking<T: Sendable>(_ work: @escaping @Sendable () throws -> T) async throws -> T {
    try await withCheckedThrowingContinuation { continuation in
        DispatchQueue.global(qos: .userInitiated).async {
            continuation.resume(with: Result { try work() })
        }
    }
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
