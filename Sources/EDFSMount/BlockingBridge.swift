import Dispatch
import EDFSCrypto

/// Runs async client work from a FUSE callback: starts a Task and blocks the calling thread on a semaphore until it
/// is done.
///
/// Safe because the callers are libfuse's own worker threads (pthreads of `fuse_loop_mt`), never threads of Swift
/// concurrency's cooperative pool: blocking one takes no thread away from the pool the task and the network code run
/// on, so the task always makes progress. (The same wait on a cooperative thread could exhaust the pool — two threads
/// on two cores — and deadlock.) Nothing here is called from async code.
enum BlockingBridge {
    static func run<T: Sendable>(_ work: @escaping @Sendable () async throws -> T) -> Result<T, any Error> {
        let outcome = PthreadMutex<Result<T, any Error>?>(nil)
        let done = DispatchSemaphore(value: 0)
        Task {
            let result: Result<T, any Error>
            do { result = .success(try await work()) } catch { result = .failure(error) }
            outcome.withLock { $0 = result }
            done.signal()
        }
        done.wait()
        return outcome.withLock { $0 } ?? .failure(MountError.errno(5))
    }

}
