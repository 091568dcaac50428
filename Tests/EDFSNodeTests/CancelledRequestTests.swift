import Dispatch
@testable import EDFSNode
import EDFSTestSupport
import Testing

/// A request whose client went away while its disk work waited for a thread is told apart from a node shutting down
/// (attack 7: killed gets were logged as "the node is shutting down" on a node that was not).
@Suite struct CancelledRequestTests {
    @Test("store work cancelled while it waits for a thread fails as cancelled, not as a shutdown")
    func cancelledWhileQueued() async throws {
        try await withNode { node in
            let services = node.node.services
            // Every thread of the node's pool busy until released, so the next piece of work waits in the queue.
            let release = DispatchSemaphore(value: 0), running = DispatchSemaphore(value: 0)
            let busy = Task {
                await withTaskGroup(of: Void.self) { group in
                    for _ in 0..<StorageNode.blockingThreads {
                        group.addTask {
                            _ = try? await services.blocking { () throws(StoreError) in
                                running.signal()
                                release.wait()
                            }
                        }
                    }
                }
            }
            try await offPool { for _ in 0..<StorageNode.blockingThreads { running.wait() } }
            let queued = Task { () async -> StoreError? in
                do throws(StoreError) {
                    try await services.blocking { () throws(StoreError) in }
                    return nil
                } catch {
                    return error
                }
            }
            try await Task.sleep(for: .milliseconds(200))  // the work submitted behind the busy threads
            queued.cancel()
            for _ in 0..<StorageNode.blockingThreads { release.signal() }
            await busy.value
            let failure = await queued.value
            #expect(failure == .io("node", "the request was cancelled: its connection closed"), "\(String(describing: failure))")
            // Work that is not cancelled still runs.
            #expect(try await services.blocking { () throws(StoreError) in 7 } == 7)
        }
    }
}
