import Glibc

/// Where opened plaintext goes: positional writes into the output file, or in order to a stream.
/// `@unchecked Sendable` is sound: it only holds a descriptor; positional writes of different stripes touch
/// disjoint ranges, and the sequential (stdout) mode is used by one stripe at a time.
final class OutputSink: @unchecked Sendable {
    let descriptor: Int32
    let sequential: Bool

    init(descriptor: Int32, sequential: Bool) {
        self.descriptor = descriptor
        self.sequential = sequential
    }

    func write(_ bytes: UnsafeRawBufferPointer, at offset: UInt64) throws {
        var done = 0
        while done < bytes.count {
            let base = bytes.baseAddress?.advanced(by: done)
            let n = sequential ? Glibc.write(descriptor, base, bytes.count - done)
                               : pwrite(descriptor, base, bytes.count - done, off_t(offset) + off_t(done))
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
