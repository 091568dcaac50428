#if canImport(Glibc)
import Glibc
#elseif canImport(Darwin)
import Darwin
#endif

/// What `lstat`/`fstat` says of one file that scrubbing and garbage collection decide on: which inode it is (so a
/// file replaced under the same name meanwhile is told apart), its size on disk and when it was last written.
struct FileStatus: Equatable, Sendable {
    var device: UInt64
    var inode: UInt64
    var size: UInt64
    /// Last modification, seconds since 1970 (fraction included).
    var modified: Double
    var isRegularFile: Bool

    init(_ info: stat) {
        device = UInt64(info.st_dev)
        inode = UInt64(info.st_ino)
        size = UInt64(max(0, info.st_size))
        modified = Double(info.st_mtim.tv_sec) + Double(info.st_mtim.tv_nsec) / 1e9
        isRegularFile = (info.st_mode & S_IFMT) == S_IFREG
    }

    /// True when `other` is the same file (same device and inode).
    func isSameFile(as other: FileStatus) -> Bool { device == other.device && inode == other.inode }
}
