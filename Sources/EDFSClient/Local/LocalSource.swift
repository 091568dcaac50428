import Glibc

/// A local regular file opened for reading by offset.
final class LocalSource: Sendable {
    let descriptor: Int32
    let size: UInt64
    let modificationSeconds: Int64
    let modificationNanoseconds: UInt32
    /// Permission bits (`st_mode & 0o7777`).
    let mode: UInt32

    init(path: String) throws {
        // O_NONBLOCK: opening a FIFO must not wait for a writer; only regular files are read, with pread.
        let fd = open(path, O_RDONLY | O_CLOEXEC | O_NONBLOCK)
        guard fd >= 0 else {
            let code = errno
            let reason = String(cString: strerror(code))
            throw code == ENOENT ? ClientError.noSuchFile("\(path): no such local file: check the path") : ClientError.localIO("cannot open \(path): \(reason)")
        }
        var info = stat()
        guard fstat(fd, &info) == 0, (info.st_mode & S_IFMT) == S_IFREG else {
            Glibc.close(fd)
            throw ClientError.usage("\(path) is not a regular file")
        }
        descriptor = fd
        size = UInt64(info.st_size)
        modificationSeconds = Int64(info.st_mtim.tv_sec)
        modificationNanoseconds = UInt32(info.st_mtim.tv_nsec)
        mode = UInt32(info.st_mode) & 0o7777
    }

    /// Reads exactly `buffer.count` bytes at `offset`, or throws (the file shrank while being read).
    func read(into buffer: UnsafeMutableRawBufferPointer, at offset: UInt64) throws {
        var done = 0
        while done < buffer.count {
            let n = pread(descriptor, buffer.baseAddress?.advanced(by: done), buffer.count - done, off_t(offset) + off_t(done))
            if n < 0 && errno == EINTR { continue }
            guard n > 0 else {
                throw ClientError.localIO(n == 0 ? "file shrank while it was being read" : "read failed: \(String(cString: strerror(errno)))")
            }
            done += n
        }
    }

    func close() { _ = Glibc.close(descriptor) }
}
