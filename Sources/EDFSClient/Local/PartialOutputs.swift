import Dispatch
import EDFSCrypto
import Glibc

/// Temporary output files being written, so an interrupted command (Ctrl-C, SIGTERM) can remove them before it
/// exits: a get never leaves partial plaintext behind. A file is created and registered in one step under the lock,
/// and `removeAll` closes the registry, so no file can appear between the two or after the interrupt.
public final class PartialOutputs: Sendable {
    public static let shared = PartialOutputs()

    private struct State {
        /// Registered files: their name inside a folder, and a descriptor of that folder the registry owns (so a
        /// removal after the folder's path was swapped for a link still removes the right file).
        var files: [String: (folder: Int32, name: String)] = [:]
        var closed = false
        /// Part-file names found in a folder (device, inode) by its last scan, by the bytes of their target's name,
        /// and when it was scanned (`removeAbandoned`).
        var scans: [FolderIdentity: (at: UInt64, byBase: [[UInt8]: [String]])] = [:]
    }
    private struct FolderIdentity: Hashable {
        let device: UInt64
        let inode: UInt64
    }
    /// How long a folder's scan for abandoned part files is reused (nanoseconds): a get -r of many files into one
    /// folder reads it once, not once per file (each read is the whole folder: quadratic in its size).
    private static let scanReuse: UInt64 = 10_000_000_000
    private let state = PthreadMutex(State())

    /// Linux's O_TMPFILE (`__O_TMPFILE | O_DIRECTORY`; a function-like macro, so not imported): an unnamed file in a
    /// folder. `__O_TMPFILE` is 0o20000000 in asm-generic/fcntl.h, used by x86-64 and arm64 alike.
    private static let temporaryFileFlag: Int32 = 0o20000000 | O_DIRECTORY

    /// Creates `name` inside the folder `folder` refers to (exclusively, mode 0600, write-only, never through a link)
    /// and registers it under `key`; the descriptor, or -1 with `errno` set. The file holds an exclusive lock for as
    /// long as the descriptor is open, from before it has a name (an unnamed O_TMPFILE linked in once locked, where
    /// the file system allows): a later get that can take the lock of a part file knows the get that wrote it died
    /// (kill -9) and removes it.
    func create(_ name: String, inFolder folder: Int32, key: String) -> Int32 {
        state.withLock { s -> Int32 in
            guard !s.closed else {
                errno = EINTR
                return -1
            }
            let owned = dup(folder)
            guard owned >= 0 else { return -1 }
            var fd = openat(folder, ".", Self.temporaryFileFlag | O_WRONLY | O_CLOEXEC, 0o600)
            if fd >= 0 {
                _ = flock(fd, LOCK_EX | LOCK_NB)
                guard linkat(AT_FDCWD, "/proc/self/fd/\(fd)", folder, name, AT_SYMLINK_FOLLOW) == 0 else {
                    let code = errno
                    close(fd)
                    close(owned)
                    errno = code
                    return -1
                }
            } else {
                fd = openat(folder, name, O_WRONLY | O_CREAT | O_EXCL | O_CLOEXEC | O_NOFOLLOW, 0o600)
                guard fd >= 0 else {
                    let code = errno
                    close(owned)
                    errno = code
                    return -1
                }
                _ = flock(fd, LOCK_EX | LOCK_NB)
            }
            s.files[key] = (owned, name)
            return fd
        }
    }

    /// Forgets `key` (its file was renamed into place or removed by its owner).
    func remove(_ key: String) {
        if let entry = state.withLock({ $0.files.removeValue(forKey: key) }) { close(entry.folder) }
    }

    /// Unlinks every registered file and refuses new ones (from a signal handler's queue, just before exiting).
    public func removeAll() {
        state.withLock { s in
            s.closed = true
            for (_, entry) in s.files {
                unlinkat(entry.folder, entry.name, 0)
                close(entry.folder)
            }
            s.files.removeAll()
        }
    }

    /// After an interrupt began (`removeAll`), parks the calling thread for good, so the interrupt's exit status (130)
    /// is the process's: a get that meets its removed part file must not exit first with "cannot move the output".
    public func holdIfInterrupted() {
        guard state.withLock({ $0.closed }) else { return }
        while true { pause() }
    }

    /// Removes part files of earlier gets of the same target that died without cleaning up (SIGKILL, a crash):
    /// regular files named `.<base>.edfs-<hex>.part` in `directory` whose lock no running get holds. Returns how many.
    /// The folder is read once per `scanReuse` for all targets in it; a part file that appeared since is left for a
    /// later get (only a get that died leaves one).
    @discardableResult
    func removeAbandoned(inFolder directory: Int32, base: String) -> Int {
        var info = stat()
        guard fstat(directory, &info) == 0 else { return 0 }
        let identity = FolderIdentity(device: UInt64(info.st_dev), inode: UInt64(info.st_ino))
        let now = DispatchTime.now().uptimeNanoseconds
        let cached = state.withLock { s -> [String]?? in
            guard let scan = s.scans[identity], now &- scan.at < Self.scanReuse else { return nil }
            return .some(s.scans[identity]?.byBase.removeValue(forKey: Array(base.utf8)))
        }
        let candidates: [String]
        if let cached {
            candidates = cached ?? []
        } else {
            var byBase = Self.partFiles(in: directory)
            candidates = byBase.removeValue(forKey: Array(base.utf8)) ?? []
            state.withLock { $0.scans[identity] = (now, byBase) }
        }
        var removed = 0
        for name in candidates {
            let fd = openat(directory, name, O_RDONLY | O_NOFOLLOW | O_CLOEXEC | O_NONBLOCK)
            guard fd >= 0 else { continue }
            defer { close(fd) }
            var info = stat()
            guard fstat(fd, &info) == 0, info.st_mode & S_IFMT == S_IFREG,
                  flock(fd, LOCK_EX | LOCK_NB) == 0 else { continue }
            if unlinkat(directory, name, 0) == 0 { removed += 1 }
        }
        return removed
    }

    /// The names shaped `.<base>.edfs-<12 characters>.part` in `directory`, by the bytes of their base.
    private static func partFiles(in directory: Int32) -> [[UInt8]: [String]] {
        let listing = dup(directory)
        guard listing >= 0 else { return [:] }
        guard let folder = fdopendir(listing) else {
            close(listing)
            return [:]
        }
        defer { closedir(folder) }
        let marker = Array(".edfs-".utf8), suffix = Array(".part".utf8)
        let tail = marker.count + 12 + suffix.count
        var found = [[UInt8]: [String]]()
        while let entry = readdir(folder) {
            let bytes = withUnsafeBytes(of: entry.pointee.d_name) { raw in Array(raw.prefix { $0 != 0 }) }
            guard bytes.count > 1 + tail, bytes[0] == UInt8(ascii: "."), bytes.suffix(suffix.count).elementsEqual(suffix),
                  bytes[(bytes.count - tail)..<(bytes.count - tail + marker.count)].elementsEqual(marker) else { continue }
            found[Array(bytes[1..<(bytes.count - tail)]), default: []].append(String(decoding: bytes, as: UTF8.self))
        }
        return found
    }
}
