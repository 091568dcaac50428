import EDFSCrypto
import EDFSFormat
import Glibc

/// The output file of a get: a temporary file beside the target, renamed over it only when complete.
///
/// Everything after the folder is opened goes through that folder's descriptor (openat, renameat, unlinkat): a
/// folder on the path swapped for a link while the get runs cannot redirect the rename, the cleanup or the check of
/// what is at the target (attack finding: a root `get -r` renamed its output through a link swapped in mid-get).
final class TemporaryOutput: Sendable {
    let descriptor: Int32
    /// The target's folder, opened once.
    let folder: Int32
    let temporaryName: String
    let targetName: String
    /// The target's path as the user gave it (messages, and the registry key of the part file).
    let target: String
    /// The descriptors are closed exactly once, whichever of commit and discard gets there.
    private let open = PthreadMutex(true)

    /// Opens `target`'s folder (a link as its last component is refused unless `folder` is given) and creates the
    /// temporary file in it. `folder`, when given, is a descriptor of the target's folder the caller already opened
    /// safely (`LocalTree`); it stays the caller's.
    init(target: String, name: String? = nil, size: UInt64, folder given: Int32? = nil) throws {
        let slash = target.lastIndex(of: "/")
        let directory = slash.map { target[..<$0].isEmpty ? "/" : String(target[..<$0]) } ?? "."
        let base = name ?? slash.map { String(target[target.index(after: $0)...]) } ?? target
        let folder = given.map { dup($0) } ?? Glibc.open(directory, O_RDONLY | O_DIRECTORY | O_CLOEXEC)
        guard folder >= 0 else {
            let code = errno
            throw ClientError.localIO("cannot open the folder \(directory): \(String(cString: strerror(code)))")
        }
        self.folder = folder
        let suffix = Hex.encode(try SecureRandom.bytes(6))
        temporaryName = ".\(base).edfs-\(suffix).part"
        targetName = base
        self.target = target
        PartialOutputs.shared.removeAbandoned(inFolder: folder, base: base)
        let fd = PartialOutputs.shared.create(temporaryName, inFolder: folder, key: target + "\u{0}" + temporaryName)
        guard fd >= 0 else {
            let code = errno
            Glibc.close(folder)
            throw ClientError.localIO("cannot create a file in \(directory): \(String(cString: strerror(code)))")
        }
        descriptor = fd
        guard ftruncate(fd, off_t(size)) == 0 else {
            let code = errno
            discard()
            throw ClientError.localIO("cannot size the output file: \(String(cString: strerror(code)))")
        }
    }

    private var registryKey: String { target + "\u{0}" + temporaryName }

    /// Runs `last` and closes both descriptors, the first time only.
    private func closeOnce(_ last: () -> Void = {}) {
        let wasOpen = open.withLock { state in
            defer { state = false }
            return state
        }
        if wasOpen {
            last()
            Glibc.close(descriptor)
            Glibc.close(folder)
        }
    }

    /// Sets the mode — the stored permission bits (`mode & 0o777`: set-id and sticky bits are never restored), or
    /// 0o666 less the umask when none was stored — and modification time, and renames the file into place (with
    /// `sync`, durably: fsync of the file before and of the folder after).
    /// Without `replacing`, a file that appeared at the target since the get began is not replaced (`linkIntoPlace`).
    /// On failure the caller discards the temporary file.
    func commit(modificationSeconds: Int64, nanoseconds: UInt32, mode: UInt32 = 0, sync: Bool,
                replacing: Bool = true) throws {
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
        // Only a regular file is ever replaced: a device, FIFO, folder or link that appeared at the target since the
        // get began stays as it is.
        var info = stat()
        if fstatat(folder, targetName, &info, AT_SYMLINK_NOFOLLOW) == 0, info.st_mode & S_IFMT != S_IFREG {
            throw ClientError.localIO("refusing to replace \(target): it is not a regular file; nothing was written")
        }
        // Renamed while still open, so its lock tells other gets it is not abandoned until it has its final name.
        if !replacing {
            try linkIntoPlace()
        } else {
            guard renameat(folder, temporaryName, folder, targetName) == 0 else {
                let code = errno
                throw ClientError.localIO("cannot move the output into place at \(target): \(String(cString: strerror(code)))")
            }
        }
        PartialOutputs.shared.remove(registryKey)
        if sync { _ = fsync(folder) }
        closeOnce()
    }

    /// Gives the file its final name only if nothing has that name: a hard link (which fails with EEXIST instead of
    /// replacing), then the temporary name goes. A file system without hard links gets a rename after a last check.
    private func linkIntoPlace() throws {
        let appeared = ClientError.usage("\(target) appeared while the get ran; pass --force to replace it; nothing was written")
        if linkat(folder, temporaryName, folder, targetName, 0) == 0 {
            unlinkat(folder, temporaryName, 0)
            return
        }
        let code = errno
        if code == EEXIST { throw appeared }
        guard code == EPERM || code == EOPNOTSUPP || code == EMLINK else {
            throw ClientError.localIO("cannot move the output into place at \(target): \(String(cString: strerror(code)))")
        }
        var info = stat()
        if fstatat(folder, targetName, &info, AT_SYMLINK_NOFOLLOW) == 0 { throw appeared }
        guard renameat(folder, temporaryName, folder, targetName) == 0 else {
            let code = errno
            throw ClientError.localIO("cannot move the output into place at \(target): \(String(cString: strerror(code)))")
        }
    }

    /// Removes the temporary file (nothing partial is left behind).
    func discard() {
        closeOnce {
            unlinkat(folder, temporaryName, 0)
            PartialOutputs.shared.remove(registryKey)
        }
    }
}
