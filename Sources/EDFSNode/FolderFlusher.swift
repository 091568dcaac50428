#if canImport(Glibc)
import Glibc
#elseif canImport(Darwin)
import Darwin
#endif

/// Group commit of folder fsyncs (docs/STORAGE.md, "Writing"): writers that renamed (or unlinked) in the same folder
/// at about the same time share one fsync of it. The rule is the classic one: `flush(_:)` returns only after an fsync
/// of the folder that **started after the call** has completed, so a rename done before the call is durable when it
/// returns. A caller that arrives while a flush of that folder runs waits for it to end and for the next one, which
/// one of the waiters starts and which covers everyone who arrived meanwhile. Flushes of different folders run
/// independently. Blocking: call from a thread pool (waiters block their thread).
///
/// A failed fsync fails every caller it covers, and also any caller whose own flush is later than a failed one it
/// saw (conservative: after a failed fsync the kernel may have dropped what that fsync covered).
final class FolderFlusher: @unchecked Sendable {
    // @unchecked Sendable: `folders` and `completedFlushes` are read and written only between pthread_mutex_lock and
    // pthread_mutex_unlock of `mutex` (every access is inside `locked` or between the explicit lock/unlock pairs in
    // `flush`, and pthread_cond_wait re-acquires it before returning); `mutex` and `condition` are allocated and
    // initialised once in init and destroyed only in deinit, when no thread can be using the flusher.

    /// One folder's flushes: numbered from 1 in the order they start; at most one runs at a time.
    private struct Folder {
        /// The number of the last flush started.
        var started: UInt64 = 0
        /// The number of the last flush completed (= `started` when none runs).
        var completed: UInt64 = 0
        var running = false
        /// The latest flush that failed, and why.
        var failure: (flush: UInt64, error: StoreError)?
        /// Callers inside `flush` for this folder; the entry is dropped when the last leaves.
        var callers = 0
    }

    private var folders: [String: Folder] = [:]
    private var completedFlushes = 0
    private let mutex: UnsafeMutablePointer<pthread_mutex_t>
    private let condition: UnsafeMutablePointer<pthread_cond_t>
    /// The fsync itself (tests substitute one that records or delays).
    private let sync: @Sendable (String) throws(StoreError) -> Void

    init(sync: @escaping @Sendable (String) throws(StoreError) -> Void = { (path: String) throws(StoreError) in
        try FileIO.fsyncDirectory(path)
    }) {
        self.sync = sync
        mutex = .allocate(capacity: 1)
        mutex.initialize(to: pthread_mutex_t())
        precondition(pthread_mutex_init(mutex, nil) == 0, "pthread_mutex_init failed")
        condition = .allocate(capacity: 1)
        condition.initialize(to: pthread_cond_t())
        precondition(pthread_cond_init(condition, nil) == 0, "pthread_cond_init failed")
    }

    deinit {
        pthread_cond_destroy(condition)
        condition.deinitialize(count: 1)
        condition.deallocate()
        pthread_mutex_destroy(mutex)
        mutex.deinitialize(count: 1)
        mutex.deallocate()
    }

    /// fsyncs performed so far, all folders together (a test hook: fewer than the callers when they were grouped).
    var flushCount: Int {
        pthread_mutex_lock(mutex)
        defer { pthread_mutex_unlock(mutex) }
        return completedFlushes
    }

    /// Folders with a caller inside `flush` now (for tests: zero when the node is quiet).
    var activeFolders: Int {
        pthread_mutex_lock(mutex)
        defer { pthread_mutex_unlock(mutex) }
        return folders.count
    }

    /// Callers inside `flush(path)` now, flushing or waiting (for tests).
    func callers(of path: String) -> Int {
        pthread_mutex_lock(mutex)
        defer { pthread_mutex_unlock(mutex) }
        return folders[path]?.callers ?? 0
    }

    /// Returns once an fsync of `path` that started after this call has completed; throws if it (or a later flush
    /// this caller saw) failed.
    func flush(_ path: String) throws(StoreError) {
        pthread_mutex_lock(mutex)
        defer { pthread_mutex_unlock(mutex) }
        var entry = folders[path] ?? Folder()
        entry.callers += 1
        // The first flush to start from now on: the one running (if any) started before this call.
        let ticket = entry.started + 1
        folders[path] = entry
        defer {
            if var left = folders[path] {
                left.callers -= 1
                folders[path] = left.callers > 0 || left.running ? left : nil
            }
        }
        while let state = folders[path], state.completed < ticket {
            if state.running {
                pthread_cond_wait(condition, mutex)
                continue
            }
            let number = state.started + 1
            folders[path]?.started = number
            folders[path]?.running = true
            pthread_mutex_unlock(mutex)
            var failure: StoreError?
            do throws(StoreError) {
                try sync(path)
            } catch {
                failure = error
            }
            pthread_mutex_lock(mutex)
            folders[path]?.completed = number
            folders[path]?.running = false
            if let failure { folders[path]?.failure = (number, failure) }
            completedFlushes += 1
            pthread_cond_broadcast(condition)
        }
        if let failure = folders[path]?.failure, failure.flush >= ticket { throw failure.error }
    }
}
