import Glibc
import Synchronization

/// Temporary output files being written, so an interrupted command (Ctrl-C, SIGTERM) can remove them before it
/// exits: a get never leaves partial plaintext behind. A file is created and registered in one step under the lock,
/// and `removeAll` closes the registry, so no file can appear between the two or after the interrupt.
public final class PartialOutputs: Sendable {
    public static let shared = PartialOutputs()

    private struct State {
        var paths: Set<String> = []
        var closed = false
    }
    private let state = Mutex(State())

    /// Creates `path` (exclusively, mode 0600, write-only) and registers it; the descriptor, or -1 with `errno` set.
    func create(_ path: String) -> Int32 {
        state.withLock { s -> Int32 in
            guard !s.closed else {
                errno = EINTR
                return -1
            }
            let fd = open(path, O_WRONLY | O_CREAT | O_EXCL | O_CLOEXEC, 0o600)
            if fd >= 0 { s.paths.insert(path) }
            return fd
        }
    }

    func remove(_ path: String) { _ = state.withLock { $0.paths.remove(path) } }

    /// Unlinks every registered file and refuses new ones (from a signal handler's queue, just before exiting).
    public func removeAll() {
        state.withLock { s in
            s.closed = true
            for path in s.paths { unlink(path) }
            s.paths.removeAll()
        }
    }
}
