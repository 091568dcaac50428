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
            guard n > 0 else { throw ClientError.localIO("cannot write the output: \(String(cString: strerror(errno)))") }
            done += n
        }
    }
}
