import Foundation

/// Runs `body` on a thread of its own and returns its result once it ends. For blocking work in async test code (a
/// child process waited for, a pipe read to its end, a poll with `usleep`): that wait then holds this thread, never one
/// of Swift concurrency's cooperative pool, which has one thread per core (two on the test machine) and which the
/// in-process nodes and clients of concurrently running suites need to answer a HELLO in time.
public func offPool<T: Sendable, E: Error>(_ body: @escaping @Sendable () throws(E) -> T) async throws(E) -> T {
    let result: Result<T, E> = await withCheckedContinuation { continuation in
        Thread { continuation.resume(returning: Result { () throws(E) -> T in try body() }) }.start()
    }
    return try result.get()
}

extension Process {
    /// `waitUntilExit()` for async code: polls `isRunning` with `Task.sleep` (10 ms), so no thread waits meanwhile.
    /// If the task is cancelled, it falls back to the blocking wait.
    public func exited() async {
        while isRunning {
            do { try await Task.sleep(for: .milliseconds(10)) } catch { break }
        }
        waitUntilExit()
    }
}
