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
