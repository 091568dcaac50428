import EDFSCrypto
import EDFSFormat
import Glibc

/// The output file of a get: a temporary file beside the target, renamed over it only when complete.
final class TemporaryOutput: Sendable {
    let descriptor: Int32
    let temporaryPath: String
    let target: String
    let directory: String
    /// The descriptor is closed exactly once, whichever of commit and discard gets there.
    private let open = PthreadMutex(true)

    init(target: String, size: UInt64) throws {
        let directory = target.contains("/") ? String(target[..<(target.lastIndex(of: "/") ?? target.endIndex)]) : "."
        self.directory = directory.isEmpty ? "/" : directory
        let base = target.split(separator: "/").last.map(String.init) ?? target
        let suffix = Hex.encode(try SecureRandom.bytes(6))
        temporaryPath = self.directory + "/.\(base).edfs-\(suffix).part"
        self.target = target
        PartialOutputs.shared.removeAbandoned(in: self.directory, base: base)
        let fd = PartialOutputs.shared.create(temporaryPath, in: self.directory)
        guard fd >= 0 else {
            let code = errno
            throw ClientError.localIO("cannot create a file in \(directory): \(String(cString: strerror(code)))")
        }
        descriptor = fd
        guard ftruncate(fd, off_t(size)) == 0 else {
            let code = errno
            discard()
            throw ClientError.localIO("cannot size the output file: \(String(cString: strerror(code)))")
        }
    }

    private func closeOnce() {
        let wasOpen = open.withLock { state in
            defer { state = false }
            return state
        }
        if wasOpen { Glibc.close(descriptor) }
    }

    /// Sets the mode — the stored permission bits (`mode & 0o777`: set-id and sticky bits are never restored), or
    /// 0o666 less the umask when none was stored — and modification time, and renames the file into place (with
    /// `sync`, durably: fsync of the file before and of the folder after).
    /// On failure the caller discards the temporary file.
    func commit(modificationSeconds: Int64, nanoseconds: UInt32, mode: UInt32 = 0, sync: Bool) throws {
        _ = fchmod(descriptor, mode_t(mode == 0 ? 0o666 & ~ProcessUmask.value : mode & 0o777))
        var times = [timespec(tv_sec: time(nil), tv_nsec: 0),
                     timespec(tv_sec: Int(modificationSeconds), tv_nsec: Int(nanoseconds))]
        _ = futimens(descriptor, &times)
        if sync {
            guard fsync(descriptor) == 0 else {
                let code = errno
                throw ClientError.localIO("cannot flush the output file: \(String(cString: strerror(code)))")
            }
        }
        defer { PartialOutputs.shared.remove(temporaryPath) }
        // Only a regular file is ever replaced: a device, FIFO, folder or link that appeared at the target since the
        // get began stays as it is.
        var info = stat()
        if lstat(target, &info) == 0, info.st_mode & S_IFMT != S_IFREG {
            throw ClientError.localIO("refusing to replace \(target): it is not a regular file; nothing was written")
        }
        // Renamed while still open, so its lock tells other gets it is not abandoned until it has its final name.
        guard rename(temporaryPath, target) == 0 else {
            let code = errno
            throw ClientError.localIO("cannot move the output into place at \(target): \(String(cString: strerror(code)))")
        }
        closeOnce()
        let directoryFD = sync ? Glibc.open(directory, O_RDONLY | O_DIRECTORY | O_CLOEXEC) : -1
        if directoryFD >= 0 {
            _ = fsync(directoryFD)
            Glibc.close(directoryFD)
        }
    }

    /// Removes the temporary file (nothing partial is left behind).
    func discard() {
        closeOnce()
        unlink(temporaryPath)
        PartialOutputs.shared.remove(temporaryPath)
    }
}
