import EDFSClient
import EDFSCrypto
import Synchronization

/// A file opened for writing through the mount: its spool, the mode it was created with, and whether it changed
/// since the last commit attempt (a failed commit is not tried again at release: `close` already reported it, and
/// the previous version must stay; a new write makes the next flush try again).
final class PendingWrite: Sendable {
    let name: String
    let spool: SpoolFile
    private let permissions: Atomic<UInt32>
    private let dirty = Atomic<Bool>(true)

    init(name: String, spool: SpoolFile, mode: UInt32) {
        self.name = name
        self.spool = spool
        permissions = Atomic(mode & 0o777)
    }

    /// Permission bits given at create or by chmod while open (reported until the commit; the store keeps none yet).
    var mode: UInt32 {
        get { permissions.load(ordering: .sequentiallyConsistent) }
    }

    func setMode(_ mode: UInt32) { permissions.store(mode & 0o777, ordering: .sequentiallyConsistent) }

    /// New bytes (or times, or a truncation) since the last commit attempt.
    func markDirty() { dirty.store(true, ordering: .sequentiallyConsistent) }

    /// True (and now clean) if there is something to commit.
    func takeDirty() -> Bool { dirty.exchange(false, ordering: .sequentiallyConsistent) }
}

/// An open file handle of the mount.
enum OpenFile: Sendable {
    /// A stored version, read by segments.
    case reading(RandomAccessRead)
    /// A new content being written to a spool, committed on close.
    case writing(PendingWrite)
}

/// The mount's open handles by the number FUSE keeps in `fuse_file_info.fh`.
final class HandleTable: Sendable {
    private struct State {
        var next: UInt64 = 1
        var open: [UInt64: OpenFile] = [:]
    }

    private let state = PthreadMutex(State())

    func add(_ file: OpenFile) -> UInt64 {
        state.withLock { state in
            let handle = state.next
            state.next += 1
            state.open[handle] = file
            return handle
        }
    }

    func file(_ handle: UInt64) -> OpenFile? { state.withLock { $0.open[handle] } }

    @discardableResult
    func remove(_ handle: UInt64) -> OpenFile? { state.withLock { $0.open.removeValue(forKey: handle) } }

    var count: Int { state.withLock { $0.open.count } }
}
