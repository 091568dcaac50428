import CFUSE
import Glibc

/// The `fuse_operations` table: each callback is a `@convention(c)` function that finds the `MountedFileSystem`
/// in `fuse_get_context()->private_data`, validates the path into a stored name, and returns 0, a count, or a
/// negated errno. No callback captures anything.
enum FUSEOperations {
    static func table() -> fuse_operations {
        var ops = fuse_operations()
        ops.`init` = { _, config in
            if let config {
                config.pointee.attr_timeout = 1
                config.pointee.entry_timeout = 1
                config.pointee.negative_timeout = 0
                config.pointee.hard_remove = 1  // no .fuse_hidden renames: an unlinked open file is gone
                config.pointee.use_ino = 0
            }
            return edfs_fuse_private_data()  // becomes private_data for every later callback
        }
        ops.getattr = { path, info, _ in
            fuseWithName(path) { fs, name in
                guard let info else { return -EIO }
                switch fs.attributes(name) {
                case let .success(attributes):
                    fuseFill(info, attributes)
                    return 0
                case let .failure(error): return -error.code
                }
            }
        }
        ops.readdir = { path, buffer, filler, _, _, flags in
            fuseWithName(path) { fs, name in
                guard let filler else { return -EIO }
                switch fs.list(folder: name) {
                case let .success(entries):
                    let plus = flags.rawValue & FUSE_READDIR_PLUS.rawValue != 0
                    _ = filler(buffer, ".", nil, 0, fuse_fill_dir_flags(0))
                    _ = filler(buffer, "..", nil, 0, fuse_fill_dir_flags(0))
                    for (leaf, attributes) in entries {
                        var info = stat()
                        fuseFill(&info, attributes)
                        let full = filler(buffer, leaf, &info, 0, plus ? FUSE_FILL_DIR_PLUS : fuse_fill_dir_flags(0))
                        if full != 0 { return -ENOMEM }
                    }
                    return 0
                case let .failure(error): return -error.code
                }
            }
        }
        ops.open = { path, fi in
            fuseWithName(path) { fs, name in
                guard let fi else { return -EIO }
                switch fs.open(name, flags: fi.pointee.flags) {
                case let .success(opened):
                    fi.pointee.fh = opened.handle
                    fi.pointee.direct_io = opened.directIO ? 1 : 0
                    fs.setOpener(opened.handle, pid: callerProcess())
                    return 0
                case let .failure(error): return -error.code
                }
            }
        }
        ops.create = { path, mode, fi in
            fuseWithName(path) { fs, name in
                guard let fi else { return -EIO }
                switch fs.create(name, mode: UInt32(mode)) {
                case let .success(handle):
                    fi.pointee.fh = handle
                    fs.setOpener(handle, pid: callerProcess())
                    return 0
                case let .failure(error): return -error.code
                }
            }
        }
        ops.read = { _, buffer, size, offset, fi in
            guard let fs = fuseFileSystem(), let fi, let buffer else { return -EIO }
            let count = fs.read(fi.pointee.fh, into: UnsafeMutableRawBufferPointer(start: buffer, count: size),
                                at: Int64(offset))
            return Int32(clamping: count)
        }
        ops.write = { _, buffer, size, offset, fi in
            guard let fs = fuseFileSystem(), let fi, let buffer else { return -EIO }
            return Int32(clamping: fs.write(fi.pointee.fh, UnsafeRawBufferPointer(start: buffer, count: size),
                                            at: Int64(offset)))
        }
        ops.flush = { _, fi in
            guard let fs = fuseFileSystem(), let fi else { return -EIO }
            return fs.flush(fi.pointee.fh, by: callerProcess())
        }
        ops.fsync = { _, _, fi in
            guard let fs = fuseFileSystem(), let fi else { return -EIO }
            return fs.flush(fi.pointee.fh)
        }
        ops.release = { _, fi in
            guard let fs = fuseFileSystem(), let fi else { return -EIO }
            return fs.release(fi.pointee.fh)
        }
        ops.truncate = { path, size, fi in
            fuseWithName(path) { fs, name in fs.truncate(name, to: Int64(size), handle: fi?.pointee.fh) }
        }
        ops.unlink = { path in fuseWithName(path) { fs, name in fs.remove(file: name) } }
        ops.mkdir = { path, mode in fuseWithName(path) { fs, name in fs.makeFolder(name, mode: UInt32(mode)) } }
        ops.rmdir = { path in fuseWithName(path) { fs, name in fs.removeFolder(name) } }
        ops.rename = { from, to, flags in
            fuseWithName(from) { fs, source in
                switch MountPath.storedName(to) {
                case let .success(target): return fs.rename(source, to: target, flags: flags)
                case let .failure(error): return -error.code
                }
            }
        }
        ops.utimens = { path, times, fi in
            fuseWithName(path) { fs, name in fs.setTimes(name, times, handle: fi?.pointee.fh) }
        }
        ops.chmod = { path, mode, _ in fuseWithName(path) { fs, name in fs.setPermissions(name, UInt32(mode)) } }
        ops.chown = { path, uid, gid, _ in
            fuseWithName(path) { fs, name in
                guard case .success = fs.attributes(name) else { return -ENOENT }
                let unchanged = (uid == uid_t.max || uid == getuid()) && (gid == gid_t.max || gid == getgid())
                return unchanged ? 0 : -EOPNOTSUPP
            }
        }
        ops.statfs = { _, info in
            guard let fs = fuseFileSystem(), let info else { return -EIO }
            switch fs.space() {
            case let .success(space):
                let block: UInt64 = 4096
                var result = statvfs()
                result.f_bsize = UInt(block)
                result.f_frsize = UInt(block)
                result.f_blocks = fsblkcnt_t(space.totalBytes / block)
                result.f_bfree = fsblkcnt_t(space.freeBytes / block)
                result.f_bavail = fsblkcnt_t(space.freeBytes / block)
                result.f_files = fsfilcnt_t(fs.namespace.fileCount)
                result.f_ffree = fsfilcnt_t(Int32.max)
                result.f_favail = fsfilcnt_t(Int32.max)
                result.f_namemax = UInt(MountPath.maximumComponentBytes)
                info.pointee = result
                return 0
            case let .failure(error): return -error.code
            }
        }
        return ops
    }
}

/// The file system this mount serves.
private func fuseFileSystem() -> MountedFileSystem? {
    guard let raw = edfs_fuse_private_data() else { return nil }
    return Unmanaged<MountedFileSystem>.fromOpaque(raw).takeUnretainedValue()
}

/// Runs `body` with the file system and the stored name of `path`, or answers the path's errno.
private func fuseWithName(_ path: UnsafePointer<CChar>?, _ body: (MountedFileSystem, String) -> Int32) -> Int32 {
    guard let fs = fuseFileSystem() else { return -EIO }
    switch MountPath.storedName(path) {
    case let .success(name): return body(fs, name)
    case let .failure(error): return -error.code
    }
}

private func fuseFill(_ info: UnsafeMutablePointer<stat>, _ attributes: Attributes) {
    var result = stat()
    result.st_mode = (attributes.isFolder ? S_IFDIR : S_IFREG) | mode_t(attributes.permissions)
    result.st_nlink = attributes.isFolder ? 2 : 1
    result.st_size = off_t(clamping: attributes.size)
    result.st_blksize = 4096
    result.st_blocks = blkcnt_t(clamping: (attributes.size + 511) / 512)
    result.st_uid = getuid()
    result.st_gid = getgid()
    result.st_mtim = timespec(tv_sec: Int(attributes.modified), tv_nsec: 0)
    result.st_ctim = result.st_mtim
    result.st_atim = result.st_mtim
    info.pointee = result
}

/// The process (thread group) of the thread that made the current FUSE request: FUSE reports the thread's id, and
/// a process's threads may open and close one descriptor from different threads. Nil when it cannot be told.
private func callerProcess() -> Int32? {
    guard let context = fuse_get_context(), context.pointee.pid > 0 else { return nil }
    let thread = context.pointee.pid
    guard let file = fopen("/proc/\(thread)/status", "r") else { return nil }
    defer { fclose(file) }
    var line = [CChar](repeating: 0, count: 256)
    while fgets(&line, Int32(line.count), file) != nil {
        let text = String(cString: line)
        if text.hasPrefix("Tgid:") { return Int32(text.dropFirst(5).trimmingCharacters(in: .whitespacesAndNewlines)) }
    }
    return nil
}
