import EDFSCrypto
#if canImport(Glibc)
import Glibc
#elseif canImport(Darwin)
import Darwin
#endif

/// An flock(2) on `DIR/node.lock` that tells a running node and an offline `edfs node scrub` of the same data folder
/// apart: every running node holds it shared (several may, as before), the offline scrub exclusively and only if
/// no node holds it, since it moves and removes files without the running node's per-user locks. The lock goes when
/// the holder releases it or its process ends (a crash included), so it never needs cleaning up.
final class DataFolderLock: Sendable {
    /// The lock file's name inside the data folder.
    static let fileName = "node.lock"

    /// The open lock file; nil once released.
    private let descriptor: PthreadMutex<Int32?>

    private init(descriptor: Int32) {
        self.descriptor = PthreadMutex(descriptor)
    }

    /// Takes the lock of the data folder `root` (creating the file), never waiting: shared for a node, exclusive for
    /// an offline scrub; nil when the other kind holds it.
    static func acquire(root: String, exclusive: Bool) throws(StoreError) -> DataFolderLock? {
        let fd = try FileIO.openFile(root + "/" + fileName, O_RDWR | O_CREAT, what: "data folder lock")
        while flock(fd, (exclusive ? LOCK_EX : LOCK_SH) | LOCK_NB) != 0 {
            if errno == EINTR { continue }
            let code = errno
            close(fd)
            if code == EAGAIN { return nil }  // EWOULDBLOCK: the other kind holds it
            throw FileIO.failure("lock data folder", code)
        }
        return DataFolderLock(descriptor: fd)
    }

    /// Releases the lock (idempotent).
    func release() {
        descriptor.withLock { fd in
            if let open = fd { close(open) }
            fd = nil
        }
    }

    deinit { release() }
}
