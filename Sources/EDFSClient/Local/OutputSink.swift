import EDFSCrypto
import Glibc

/// Where opened plaintext goes: positional writes into the output file, or in order to a stream.
/// `@unchecked Sendable` is sound: it only holds descriptors; positional writes of different stripes touch
/// disjoint ranges, and the sequential (stdout) mode is used by one stripe at a time.
final class OutputSink: @unchecked Sendable {
    let descriptor: Int32
    let sequential: Bool
    /// A second descriptor of the output file, opened with O_DIRECT (or -1): the page-aligned middle of a positional
    /// write whose memory is page-aligned like its file offset goes through it, past the page cache; the rest through
    /// `descriptor` (docs/PERFORMANCE.md, "Writing the output past the page cache").
    private let direct: Int32
    /// Set once the file system refused an O_DIRECT write: every later write goes through `descriptor`.
    private let directRefused = PthreadMutex(false)

    /// A sink writing to `descriptor`; with `direct`, a positional sink also writes the aligned parts of its writes
    /// with O_DIRECT, when the file system allows it (else every write goes through `descriptor`).
    init(descriptor: Int32, sequential: Bool, direct: Bool = false) {
        self.descriptor = descriptor
        self.sequential = sequential
        // The same file opened again (a new open file description): O_DIRECT there leaves `descriptor` as it was.
        self.direct = direct && !sequential && DirectTransfer.openFlag != 0
            ? open("/proc/self/fd/\(descriptor)", O_WRONLY | DirectTransfer.openFlag | O_CLOEXEC) : -1
    }

    deinit {
        if direct >= 0 { close(direct) }
    }

    func write(_ bytes: UnsafeRawBufferPointer, at offset: UInt64) throws {
        let a = DirectTransfer.alignment
        if direct >= 0, !directRefused.withLock({ $0 }), let base = bytes.baseAddress,
           (Int(bitPattern: base) - Int(offset % UInt64(a))) % a == 0 {
            // Head up to the first page boundary and tail after the last one through the page cache, the middle not.
            let head = (a - Int(offset % UInt64(a))) % a
            let middle = max(0, bytes.count - head) / a * a
            if middle > 0 {
                try writeAll(descriptor, UnsafeRawBufferPointer(rebasing: bytes[0..<head]), at: offset)
                let aligned = UnsafeRawBufferPointer(rebasing: bytes[head..<(head + middle)])
                let written = try writeDirect(aligned, at: offset + UInt64(head))
                if written < aligned.count {
                    try writeAll(descriptor, UnsafeRawBufferPointer(rebasing: aligned[written...]),
                                 at: offset + UInt64(head + written))
                }
                try writeAll(descriptor, UnsafeRawBufferPointer(rebasing: bytes[(head + middle)...]),
                             at: offset + UInt64(head + middle))
                return
            }
        }
        try writeAll(descriptor, bytes, at: offset)
    }

    /// Writes through the O_DIRECT descriptor; returns the bytes written, fewer than asked when the file system
    /// refused O_DIRECT (EINVAL, also after a short write left the rest unaligned): the caller writes the rest through
    /// the page cache, and later writes do not try O_DIRECT again.
    private func writeDirect(_ bytes: UnsafeRawBufferPointer, at offset: UInt64) throws -> Int {
        var done = 0
        while done < bytes.count {
            let n = pwrite(direct, bytes.baseAddress?.advanced(by: done), bytes.count - done, off_t(offset) + off_t(done))
            if n < 0 && errno == EINTR { continue }
            if n < 0 && errno == EINVAL {
                directRefused.withLock { $0 = true }
                return done
            }
            guard n > 0 else { throw Self.failure(errno: errno, sequential: false) }
            done += n
        }
        return done
    }

    private func writeAll(_ fd: Int32, _ bytes: UnsafeRawBufferPointer, at offset: UInt64) throws {
        var done = 0
        while done < bytes.count {
            let base = bytes.baseAddress?.advanced(by: done)
            let n = sequential ? Glibc.write(fd, base, bytes.count - done)
                               : pwrite(fd, base, bytes.count - done, off_t(offset) + off_t(done))
            if n < 0 && errno == EINTR { continue }
            guard n > 0 else { throw Self.failure(errno: errno, sequential: sequential) }
            done += n
        }
    }

    /// The error of a failed write: the reader of a stream went away (`| head`), a full disk, or another failure.
    static func failure(errno code: Int32, sequential: Bool) -> ClientError {
        switch code {
        case EPIPE where sequential: return .outputClosed
        case ENOSPC, EDQUOT:
            return .localIO("cannot write the output: the disk is full (\(String(cString: strerror(code)))): free some "
                            + "space, or write elsewhere with -o")
        default: return .localIO("cannot write the output: \(String(cString: strerror(code)))")
        }
    }
}
