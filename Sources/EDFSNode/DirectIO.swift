import EDFSCrypto
import EDFSTransport
#if canImport(Glibc)
import Glibc
#elseif canImport(Darwin)
import Darwin
#endif

/// The node's direct I/O (`DirectIO:`, docs/STORAGE.md "Direct I/O"): the data of objects of `threshold` bytes or
/// more is written through a second descriptor opened with O_DIRECT, from a page-aligned staging buffer, and a GET
/// reads their blocks with O_DIRECT into a page-aligned buffer, past the page cache. Manifests, keyslots, small
/// objects, footers and the scrub stay buffered. A file system that refuses O_DIRECT (EINVAL at the open, or at a
/// transfer) gets buffered I/O for that file, with nothing lost.
final class DirectIO: Sendable {
    /// Objects of at least this many bytes are written and read directly.
    static let defaultThreshold = 4 << 20
    /// Fewest data bytes an object needs to be transferred directly.
    let threshold: Int
    /// Page-aligned buffers: a writer's staging buffer, a read's landing buffer; idle ones kept (their old bytes are
    /// stored ciphertext and checksums, nothing secret).
    let buffers: MemoryBlockPool
    /// Tests: how many more direct transfers succeed before every later one fails as on a file system that refuses
    /// O_DIRECT after the open (EINVAL); nil: the file system decides.
    private let transfersBeforeRefusal: PthreadMutex<Int>?

    /// Direct I/O for a store of `blockSize`-byte blocks; nil where O_DIRECT is unknown (not Linux).
    init?(blockSize: Int, threshold: Int = DirectIO.defaultThreshold, refusingAfter transfers: Int? = nil) {
        guard DirectTransfer.openFlag != 0 else { return nil }
        self.threshold = threshold
        transfersBeforeRefusal = transfers.map { PthreadMutex($0) }
        // One block per buffer (a read lands a whole block), at least 1 MiB (a writer stages that much per write);
        // at most 32 MiB of them in use at once: beyond, a file or block goes through the page cache.
        let size = DirectTransfer.roundedUp(max(blockSize, 1 << 20))
        let count = max(2, (32 << 20) / size)
        buffers = MemoryBlockPool(blockSize: size, alignment: DirectTransfer.alignment, limit: count, maxOut: count)
    }

    /// Opens `path` again with O_DIRECT and `flags`; -1 when the file system refuses (or any other failure: the
    /// caller then uses its buffered descriptor).
    func openDirect(_ path: String, _ flags: Int32) -> Int32 {
        while true {
            let fd = open(path, flags | DirectTransfer.openFlag | O_CLOEXEC)
            if fd < 0 && errno == EINTR { continue }
            return fd
        }
    }

    /// False when a test's simulated refusal is due (see `transfersBeforeRefusal`).
    private func transferAllowed() -> Bool {
        transfersBeforeRefusal?.withLock { left in
            guard left > 0 else { return false }
            left -= 1
            return true
        } ?? true
    }

    /// Writes `bytes` (aligned memory, offset and length) at `offset` through `fd`; returns the bytes written: fewer
    /// when the file system refused (EINVAL, also after a short write left the rest unaligned), and the caller writes
    /// the rest through the page cache.
    func write(_ fd: Int32, _ bytes: UnsafeRawBufferPointer, at offset: Int, what: String) throws(StoreError) -> Int {
        guard transferAllowed(), let base = bytes.baseAddress else { return 0 }
        var done = 0
        while done < bytes.count {
            let n = pwrite(fd, base + done, bytes.count - done, off_t(offset + done))
            if n < 0 {
                if errno == EINTR { continue }
                if errno == EINVAL { return done }
                throw FileIO.failure("write \(what)")
            }
            if n == 0 { throw .io("write \(what)", "wrote nothing") }
            done += n
        }
        return done
    }

    /// Reads at least `minimum` bytes (at most `buffer.count`, aligned) at `offset` through `fd`; returns the bytes
    /// read: fewer at the end of the file, or when the file system refused (EINVAL), and the caller reads the rest
    /// through the page cache.
    func read(_ fd: Int32, into buffer: UnsafeMutableRawBufferPointer, minimum: Int, at offset: Int,
              what: String) throws(StoreError) -> (count: Int, refused: Bool) {
        guard transferAllowed(), let base = buffer.baseAddress else { return (0, true) }
        var done = 0
        while done < minimum {
            let n = pread(fd, base + done, buffer.count - done, off_t(offset + done))
            if n < 0 {
                if errno == EINTR { continue }
                if errno == EINVAL { return (done, true) }
                throw FileIO.failure("read \(what)")
            }
            if n == 0 { break }
            done += n
        }
        return (done, false)
    }
}
