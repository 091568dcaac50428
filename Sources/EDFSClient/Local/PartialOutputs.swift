import Glibc
import Synchronization

/// Temporary output files being written, so an interrupted command (Ctrl-C, SIGTERM) can remove them before it
/// exits: a get never leaves partial plaintext behind.
public final class PartialOutputs: Sendable {
    public static let shared = PartialOutputs()
    private let paths = Mutex<Set<String>>([])

    func add(_ path: String) { _ = paths.withLock { $0.insert(path) } }
    func remove(_ path: String) { _ = paths.withLock { $0.remove(path) } }

    /// Unlinks every registered file (from a signal handler's queue, just before exiting).
    public func removeAll() {
        for path in paths.withLock({ $0 }) { unlink(path) }
    }
}
