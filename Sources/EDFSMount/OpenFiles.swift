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
    /// The errno of the first write or truncation that failed (0: none). A file that lost bytes is never committed:
    /// its close fails and the previous version stays (attack finding: a full spool committed the first MiB).
    private let failure = Atomic<Int32>(0)
    /// The process that opened it (0: unknown). FUSE sends a flush for every close of any duplicate of the
    /// descriptor — a child that inherited it and exits included — so only the opener's flush commits; a child's
    /// would commit a file still being written (a test that forked while writing saw a partial file stored).
    private let opener = Atomic<Int32>(0)

    func setOpener(_ pid: Int32) { opener.store(pid, ordering: .sequentiallyConsistent) }

    /// True when a flush by `pid` should commit: the opener's, or any when the opener is unknown.
    func commitsOnFlush(by pid: Int32) -> Bool {
        let owner = opener.load(ordering: .sequentiallyConsistent)
        return owner == 0 || owner == pid
    }

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

    /// Records that a write or truncation failed with `code`.
    func fail(_ code: Int32) { _ = failure.compareExchange(expected: 0, desired: code, ordering: .sequentiallyConsistent) }

    /// The first failure's errno, or nil.
    var failed: Int32? {
        let code = failure.load(ordering: .sequentiallyConsistent)
        return code == 0 ? nil : code
    }

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

    /// The versions open for reading under `name`.
    func readers(of name: String) -> [ManifestRecord] {
        state.withLock { state in
            state.open.values.compactMap { file -> ManifestRecord? in
                guard case let .reading(reader) = file, Array(reader.record.body.name.utf8) == Array(name.utf8) else {
                    return nil
                }
                return reader.record
            }
        }
    }

    @discardableResult
    func remove(_ handle: UInt64) -> OpenFile? { state.withLock { $0.open.removeValue(forKey: handle) } }

    var count: Int { state.withLock { $0.open.count } }
}
