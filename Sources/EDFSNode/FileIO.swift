#if canImport(Glibc)
import Glibc
#elseif canImport(Darwin)
import Darwin
#endif

/// Thin, retrying wrappers over the POSIX calls the store uses. Every failure becomes a `StoreError`
/// (`storageFull` for ENOSPC/EDQUOT, `notFound` for ENOENT where asked, `io` otherwise).
enum FileIO {
    static func errorText(_ code: Int32) -> String { String(cString: strerror(code)) }

    static func failure(_ operation: String, _ code: Int32 = errno) -> StoreError {
        if code == ENOSPC || code == EDQUOT { return .storageFull("\(operation): \(errorText(code))") }
        return .io(operation, errorText(code))
    }

    /// Opens `path`; ENOENT becomes `notFound(what)`.
    static func openFile(_ path: String, _ flags: Int32, mode: mode_t = 0o600, what: String) throws(StoreError) -> Int32 {
        while true {
            let fd = open(path, flags | O_CLOEXEC, mode)
            if fd >= 0 { return fd }
            if errno == EINTR { continue }
            if errno == ENOENT { throw .notFound(what) }
            throw failure("open \(what)")
        }
    }

    /// Writes all of `bytes` at `offset`.
    static func pwriteAll(_ fd: Int32, _ bytes: UnsafeRawBufferPointer, at offset: Int, what: String) throws(StoreError) {
        var done = 0
        while done < bytes.count {
            guard let base = bytes.baseAddress else { return }
            let n = pwrite(fd, base + done, bytes.count - done, off_t(offset + done))
            if n < 0 {
                if errno == EINTR { continue }
                throw failure("write \(what)")
            }
            if n == 0 { throw .io("write \(what)", "wrote nothing") }
            done += n
        }
    }

    /// Reads exactly `buffer.count` bytes at `offset`; a short file is a checksum failure of `what`
    /// (the footer promised those bytes).
    static func preadAll(_ fd: Int32, _ buffer: UnsafeMutableRawBufferPointer, at offset: Int, what: String) throws(StoreError) {
        var done = 0
        while done < buffer.count {
            guard let base = buffer.baseAddress else { return }
            let n = pread(fd, base + done, buffer.count - done, off_t(offset + done))
            if n < 0 {
                if errno == EINTR { continue }
                throw failure("read \(what)")
            }
            if n == 0 { throw .checksumMismatch("\(what) (file is shorter than its footer says)") }
            done += n
        }
    }

    /// Writes all of `bytes` at `offset`.
    static func pwriteAll(_ fd: Int32, _ bytes: [UInt8], at offset: Int, what: String) throws(StoreError) {
        let failure: StoreError? = bytes.withUnsafeBytes { raw in
            do throws(StoreError) { try pwriteAll(fd, raw, at: offset, what: what) } catch { return error }
            return nil
        }
        if let failure { throw failure }
    }

    /// Reads exactly `count` bytes at `offset` (see `preadAll(_:_:at:what:)`).
    static func preadAll(_ fd: Int32, count: Int, at offset: Int, what: String) throws(StoreError) -> [UInt8] {
        var out = [UInt8](repeating: 0, count: count)
        let failure: StoreError? = out.withUnsafeMutableBytes { raw in
            do throws(StoreError) { try preadAll(fd, raw, at: offset, what: what) } catch { return error }
            return nil
        }
        if let failure { throw failure }
        return out
    }

    static func fsyncFile(_ fd: Int32, what: String) throws(StoreError) {
        while fsync(fd) != 0 {
            if errno == EINTR { continue }
            throw failure("fsync \(what)")
        }
    }

    private typealias SyncFileRange = @convention(c) (Int32, Int64, Int64, UInt32) -> Int32

    /// Linux's `sync_file_range`, which Glibc's Swift overlay does not export (it needs _GNU_SOURCE); nil elsewhere.
    private static let syncFileRange: SyncFileRange? = {
        guard let symbol = dlsym(UnsafeMutableRawPointer(bitPattern: 0), "sync_file_range") else { return nil }
        return unsafeBitCast(symbol, to: SyncFileRange.self)
    }()

    /// Asks the kernel to start writing `length` bytes at `offset` to disk now, without waiting for them
    /// (SYNC_FILE_RANGE_WRITE), so that the fsync at the end of a large write finds little left to do. It may block
    /// while the disk's queue is full, which slows the sender down: backpressure from the disk. Best effort.
    static func startWriteback(_ fd: Int32, offset: Int, length: Int) {
        _ = syncFileRange?(fd, Int64(offset), Int64(length), 2 /* SYNC_FILE_RANGE_WRITE */)
    }

    /// fsyncs a directory, so that a rename or unlink in it is durable.
    static func fsyncDirectory(_ path: String) throws(StoreError) {
        let fd = try openFile(path, O_RDONLY | O_DIRECTORY, what: "directory")
        defer { close(fd) }
        try fsyncFile(fd, what: "directory")
    }

    static func fileSize(_ fd: Int32, what: String) throws(StoreError) -> Int {
        var info = stat()
        guard fstat(fd, &info) == 0 else { throw failure("stat \(what)") }
        return Int(info.st_size)
    }

    static func renameFile(_ from: String, _ to: String, what: String) throws(StoreError) {
        guard rename(from, to) == 0 else { throw failure("rename \(what)") }
    }

    /// Removes a file; false when it did not exist.
    @discardableResult
    static func removeFile(_ path: String, what: String) throws(StoreError) -> Bool {
        if unlink(path) == 0 { return true }
        if errno == ENOENT { return false }
        throw failure("remove \(what)")
    }

    /// Creates a directory (mode 0700) unless it exists; true when it was created.
    @discardableResult
    static func makeDirectory(_ path: String) throws(StoreError) -> Bool {
        if mkdir(path, 0o700) == 0 { return true }
        if errno == EEXIST { return false }
        throw failure("create directory")
    }

    /// Names in a directory (not `.` or `..`); a missing directory has none.
    static func listDirectory(_ path: String) throws(StoreError) -> [String] {
        guard let dir = opendir(path) else {
            if errno == ENOENT { return [] }
            throw failure("list directory")
        }
        defer { closedir(dir) }
        var names: [String] = []
        while let entry = readdir(dir) {
            let name = withUnsafeBytes(of: entry.pointee.d_name) { raw in
                String(decoding: raw.prefix { $0 != 0 }, as: UTF8.self)
            }
            if name != "." && name != ".." { names.append(name) }
        }
        return names
    }

    /// Free and total bytes of the file system holding `path`.
    static func space(_ path: String) throws(StoreError) -> (free: UInt64, total: UInt64) {
        var info = statvfs()
        guard statvfs(path, &info) == 0 else { throw failure("statvfs") }
        let unit = UInt64(info.f_frsize)
        return (UInt64(info.f_bavail) * unit, UInt64(info.f_blocks) * unit)
    }

    /// `lstat` of `path` (a link is not followed); nil when it does not exist.
    static func status(_ path: String) throws(StoreError) -> FileStatus? {
        var info = stat()
        if lstat(path, &info) == 0 { return FileStatus(info) }
        if errno == ENOENT { return nil }
        throw failure("stat file")
    }

    /// `fstat` of an open file.
    static func status(_ fd: Int32, what: String) throws(StoreError) -> FileStatus {
        var info = stat()
        guard fstat(fd, &info) == 0 else { throw failure("stat \(what)") }
        return FileStatus(info)
    }

    /// Moves `path` to `destination` (same file system, `destination` must not exist) only if `path` is still the
    /// file `expected` describes. rename(2) cannot compare and move at once, so the move happens first; if another
    /// file had been renamed over `path` meanwhile (a writer published a new copy), that one is put back with link(2),
    /// which never replaces anything: a copy published even later wins, as renames do. Returns whether `expected`'s file
    /// was moved; false when `path` is gone or is another file now.
    static func move(_ path: String, to destination: String, ifStill expected: FileStatus,
                     what: String) throws(StoreError) -> Bool {
        guard rename(path, destination) == 0 else {
            if errno == ENOENT { return false }
            throw failure("move \(what)")
        }
        guard let moved = try status(destination), !moved.isSameFile(as: expected) else { return true }
        if link(destination, path) != 0 && errno != EEXIST { throw failure("put back \(what)") }
        try removeFile(destination, what: what)
        return false
    }

    /// Up to `count` bytes from the start of the file at `path` (fewer if it is shorter).
    static func readPrefix(_ path: String, count: Int, what: String) throws(StoreError) -> [UInt8] {
        let fd = try openFile(path, O_RDONLY, what: what)
        defer { close(fd) }
        var out = [UInt8](repeating: 0, count: count)
        var done = 0
        while done < count {
            let n = out.withUnsafeMutableBytes { raw -> Int in
                guard let base = raw.baseAddress else { return 0 }
                return pread(fd, base + done, count - done, off_t(done))
            }
            if n < 0 {
                if errno == EINTR { continue }
                throw failure("read \(what)")
            }
            if n == 0 { break }
            done += n
        }
        return Array(out[..<done])
    }
}
