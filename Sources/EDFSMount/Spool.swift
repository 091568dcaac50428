import CFUSE
import Glibc

/// Where a file written through the mount waits, in clear, until `close` commits it as one put (docs/MOUNT.md).
///
/// The folder is `--spool DIR`, else `$XDG_RUNTIME_DIR` (a per-user tmpfs on most systems), else `/tmp`. Each spool
/// file is created with `O_TMPFILE | O_EXCL`, mode 0600: it never has a name, cannot be linked into the folder, and
/// its blocks are freed when its descriptor closes — after the commit, after a failure, and when the process dies.
/// Where the file system cannot make unnamed files, it is created `O_CREAT | O_EXCL | O_NOFOLLOW` under a random
/// name and unlinked at once.
struct Spool: Sendable {
    let folder: String

    /// The spool folder for `option` (`--spool`), which must exist and be a folder.
    static func folder(option: String?) throws -> Spool {
        let candidates = [option, getenv("XDG_RUNTIME_DIR").map { String(cString: $0) }].compactMap { $0 }
        let folder = candidates.first { !$0.isEmpty } ?? "/tmp"
        var info = stat()
        guard stat(folder, &info) == 0, (info.st_mode & S_IFMT) == S_IFDIR else {
            throw SpoolError("spool folder \(folder) does not exist or is not a folder")
        }
        return Spool(folder: folder)
    }

    /// A new, empty spool file open for reading and writing.
    func create() throws -> SpoolFile {
        let descriptor = open(folder, edfs_o_tmpfile() | O_EXCL | O_RDWR | O_CLOEXEC, 0o600)
        if descriptor >= 0 { return SpoolFile(descriptor: descriptor) }
        let code = errno
        guard code == EOPNOTSUPP || code == EISDIR || code == EINVAL else {
            throw SpoolError("cannot create a spool file in \(folder): \(String(cString: strerror(code)))")
        }
        for _ in 0..<8 {
            let name = folder + "/.edfs-spool-" + String(UInt64.random(in: 0...UInt64.max), radix: 16)
            let fd = open(name, O_CREAT | O_EXCL | O_NOFOLLOW | O_RDWR | O_CLOEXEC, 0o600)
            if fd >= 0 {
                unlink(name)
                return SpoolFile(descriptor: fd)
            }
            guard errno == EEXIST else { break }
        }
        throw SpoolError("cannot create a spool file in \(folder): \(String(cString: strerror(errno)))")
    }
}

/// One unnamed spool file; closed (and so freed) on `close()` or when released.
final class SpoolFile: Sendable {
    let descriptor: Int32

    init(descriptor: Int32) { self.descriptor = descriptor }

    deinit { Glibc.close(descriptor) }

    /// A path that opens this same file while the descriptor is open, for the put to read.
    var path: String { "/proc/self/fd/\(descriptor)" }

    var size: UInt64 {
        var info = stat()
        return fstat(descriptor, &info) == 0 ? UInt64(info.st_size) : 0
    }

    /// Modification time of the spool (what the put records).
    var modified: Int64 {
        var info = stat()
        return fstat(descriptor, &info) == 0 ? Int64(info.st_mtim.tv_sec) : 0
    }

    /// Writes all of `bytes` at `offset`; the errno on failure.
    func write(_ bytes: UnsafeRawBufferPointer, at offset: Int64) -> Int32? {
        var done = 0
        while done < bytes.count {
            let n = pwrite(descriptor, bytes.baseAddress?.advanced(by: done), bytes.count - done, off_t(offset) + off_t(done))
            if n < 0 {
                if errno == EINTR { continue }
                return errno
            }
            done += n
        }
        return nil
    }

    /// Reads up to `buffer.count` bytes at `offset`; the count, or the negated errno.
    func read(into buffer: UnsafeMutableRawBufferPointer, at offset: Int64) -> Int {
        while true {
            let n = pread(descriptor, buffer.baseAddress, buffer.count, off_t(offset))
            if n < 0 && errno == EINTR { continue }
            return n < 0 ? -Int(errno) : n
        }
    }

    func truncate(to size: Int64) -> Int32? { ftruncate(descriptor, off_t(size)) == 0 ? nil : errno }

    func setTimes(_ times: UnsafePointer<timespec>?) -> Int32? { futimens(descriptor, times) == 0 ? nil : errno }
}

struct SpoolError: Error, CustomStringConvertible {
    let description: String
    init(_ description: String) { self.description = description }
}
