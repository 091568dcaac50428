#if canImport(Glibc)
import Glibc
#elseif canImport(Darwin)
import Darwin
#endif
import COpenSSL

/// File-system side of the development PKI: the folder, existence checks and atomic PEM writes.
enum PKIFiles {
    /// What exists at a path.
    enum Kind { case missing, file, other }

    static func kind(of path: String) -> Kind {
        var info = stat()
        guard lstat(path, &info) == 0 else { return .missing }
        return (info.st_mode & S_IFMT) == S_IFREG ? .file : .other
    }

    /// Creates `directory` and any missing parents with mode 0700; an existing folder is left as it is.
    static func ensureDirectory(_ directory: String) throws {
        var info = stat()
        if stat(directory, &info) == 0 {
            guard (info.st_mode & S_IFMT) == S_IFDIR else {
                throw PKIError.cannotCreateDirectory(path: directory, reason: "it exists and is not a folder")
            }
            return
        }
        let parent = parentDirectory(of: directory)
        if parent != directory { try ensureDirectory(parent) }
        guard mkdir(directory, 0o700) == 0 || errno == EEXIST else {
            throw PKIError.cannotCreateDirectory(path: directory, reason: errorText(errno))
        }
    }

    /// Writes a file atomically: a fresh temporary file in the same folder, created with `mode` (so a private
    /// key is never readable by others, not even for a moment), filled by `fill` through a BIO, fsynced,
    /// then renamed over `path`; the folder is fsynced after the rename.
    static func writeAtomically(path: String, mode: mode_t, making what: String,
                                _ fill: (OpaquePointer) -> Bool) throws {
        let directory = parentDirectory(of: path)
        let base = path.split(separator: "/").last.map(String.init) ?? path
        let suffix = (try? SecureRandom.bytes(8))?.map { ($0 < 16 ? "0" : "") + String($0, radix: 16) }.joined()
            ?? String(getpid())
        let temporary = directory + "/." + base + ".tmp-" + suffix

        let fd = open(temporary, O_WRONLY | O_CREAT | O_EXCL | O_CLOEXEC | O_NOFOLLOW, mode)
        guard fd >= 0 else { throw PKIError.cannotWrite(path: path, reason: errorText(errno)) }
        var renamed = false
        defer { if !renamed { unlink(temporary) } }
        var closed = false
        defer { if !closed { close(fd) } }

        // The umask can only narrow the mode; set it exactly before any byte is written.
        guard fchmod(fd, mode) == 0 else { throw PKIError.cannotWrite(path: path, reason: errorText(errno)) }
        guard let bio = BIO_new_fd(fd, BIO_NOCLOSE) else {
            throw PKIError.openSSL(function: "BIO_new_fd", making: path)
        }
        errno = 0
        let wrote = fill(bio)
        let writeErrno = errno
        BIO_free_all(bio)
        guard wrote else {
            ERR_clear_error()
            throw PKIError.cannotWrite(path: path, reason: writeErrno != 0 ? errorText(writeErrno) : "encoding \(what) failed")
        }
        guard fsync(fd) == 0 else { throw PKIError.cannotWrite(path: path, reason: errorText(errno)) }
        closed = true
        guard close(fd) == 0 else { throw PKIError.cannotWrite(path: path, reason: errorText(errno)) }
        guard rename(temporary, path) == 0 else { throw PKIError.cannotWrite(path: path, reason: errorText(errno)) }
        renamed = true
        syncDirectory(directory)
    }

    /// Best-effort fsync of a folder so a rename in it survives a crash.
    static func syncDirectory(_ directory: String) {
        let fd = open(directory, O_RDONLY | O_DIRECTORY | O_CLOEXEC)
        guard fd >= 0 else { return }
        _ = fsync(fd)
        close(fd)
    }

    /// The folder part of `path` (`.` for a bare name, `/` for the root).
    static func parentDirectory(of path: String) -> String {
        var trimmed = Substring(path)
        while trimmed.count > 1, trimmed.hasSuffix("/") { trimmed = trimmed.dropLast() }
        guard let slash = trimmed.lastIndex(of: "/") else { return "." }
        if slash == trimmed.startIndex { return "/" }
        return String(trimmed[..<slash])
    }

    static func errorText(_ code: Int32) -> String {
        guard let text = strerror(code) else { return "error \(code)" }
        return String(cString: text)
    }
}
