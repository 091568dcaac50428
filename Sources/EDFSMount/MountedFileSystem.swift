import EDFSClient
import EDFSCrypto
import Glibc
import Synchronization

/// What getattr reports for one name.
struct Attributes: Equatable {
    var isFolder: Bool
    var size: UInt64
    var modified: Int64
    /// Permission bits.
    var permissions: UInt32
}

/// The file system `edfs mount` serves, in terms of stored names: every FUSE callback lands in one method here,
/// which answers from the namespace snapshot or calls the backend through `BlockingBridge`, and returns a result or
/// an errno. Independent of libfuse, so its rules can be reasoned about (and tested) on their own.
final class MountedFileSystem: Sendable {
    let backend: any MountBackend
    let namespace: MountNamespace
    let spool: Spool
    let readOnly: Bool
    let handles = HandleTable()
    /// Names being written here, at most one writer each.
    private let writing = PthreadMutex<[String: PendingWrite]>([:])
    private let refreshing = Atomic<Bool>(false)
    /// Short messages for the mount's stderr (names and errors only: never keys or file contents).
    let log: @Sendable (String) -> Void
    /// What folders without a stored entry report as their modification time: when the mount started.
    let startTime = Int64(time(nil))

    init(backend: any MountBackend, spool: Spool, readOnly: Bool, refreshInterval: Double,
         log: @escaping @Sendable (String) -> Void) {
        self.backend = backend
        self.spool = spool
        self.readOnly = readOnly
        namespace = MountNamespace(refreshInterval: refreshInterval)
        self.log = log
    }

    static let filePermissions: UInt32 = 0o644
    static let folderPermissions: UInt32 = 0o755

    // MARK: listing

    /// When the snapshot is older than the interval, starts listing the store again in the background (one listing
    /// at a time) and answers from the snapshot it has meanwhile: no lookup waits for a listing. A failed listing
    /// keeps the old snapshot and is tried again at the next lookup.
    private func refreshIfStale() {
        guard namespace.isStale(now: Self.now()) else { return }
        guard refreshing.compareExchange(expected: false, desired: true, ordering: .sequentiallyConsistent).exchanged
        else { return }
        let generation = namespace.generation
        Task { [self] in
            defer { refreshing.store(false, ordering: .sequentiallyConsistent) }
            do {
                let listing = try await backend.list()
                namespace.replace(with: listing, takenAt: generation, now: Self.now())
            } catch {
                namespace.listingFailed(now: Self.now())
                log("listing failed, keeping the previous one: \(error)")
            }
        }
    }

    static func now() -> Double {
        var time = timespec()
        clock_gettime(CLOCK_MONOTONIC, &time)
        return Double(time.tv_sec) + Double(time.tv_nsec) / 1e9
    }

    // MARK: lookups

    func attributes(_ name: String) -> Result<Attributes, MountError> {
        if let pending = writing.withLock({ $0[name] }) {
            return .success(Attributes(isFolder: false, size: pending.spool.size, modified: pending.spool.modified,
                                       permissions: pending.mode & 0o777))
        }
        refreshIfStale()
        switch namespace.lookUp(name) {
        case let .file(entry)?: return .success(Self.attributes(of: entry))
        case let .folder(entry)?:
            return .success(Attributes(isFolder: true, size: 0, modified: entry?.modified ?? startTime,
                                       permissions: Self.folderPermissions))
        case nil: return .failure(.errno(ENOENT))
        }
    }

    private static func attributes(of entry: MountEntry) -> Attributes {
        Attributes(isFolder: false, size: entry.size, modified: entry.modified,
                   permissions: entry.mode == 0 ? filePermissions : entry.mode & 0o777)
    }

    /// The folder's entries (leaf name and attributes), files being written here included.
    func list(folder name: String) -> Result<[(String, Attributes)], MountError> {
        refreshIfStale()
        guard var children = namespace.children(of: name) else {
            return .failure(.errno(namespace.lookUp(name) == nil ? ENOENT : ENOTDIR))
        }
        var result = [(String, Attributes)]()
        for (key, node) in children {
            let leaf = key.text
            switch node {
            case let .file(entry): result.append((leaf, Self.attributes(of: entry)))
            case let .folder(entry):
                result.append((leaf, Attributes(isFolder: true, size: 0, modified: entry?.modified ?? startTime,
                                                permissions: Self.folderPermissions)))
            }
        }
        for (pendingName, pending) in writing.withLock({ $0 }) where MountPath.parent(of: pendingName).utf8.elementsEqual(name.utf8) {
            let leaf = MountPath.leaf(of: pendingName)
            if children[ByteName(leaf)] == nil {
                children[ByteName(leaf)] = .file(MountEntry(name: pendingName, isFolder: false, size: 0, modified: 0, mode: 0))
                result.append((leaf, Attributes(isFolder: false, size: pending.spool.size, modified: pending.spool.modified,
                                                permissions: pending.mode & 0o777)))
            }
        }
        return .success(result.sorted { Array($0.0.utf8).lexicographicallyPrecedes(Array($1.0.utf8)) })
    }

    // MARK: open, read, write, close

    /// Opens for reading (a reader of the newest stored version), or for writing a new content: a write open must
    /// truncate (`O_TRUNC`) unless the file is empty; appends and changes to existing bytes are refused (EOPNOTSUPP).
    func open(_ name: String, flags: Int32) -> Result<Opened, MountError> {
        let access = flags & O_ACCMODE
        if access == O_RDONLY {
            if let pending = writing.withLock({ $0[name] }) { return .success(Opened(handles.add(.writing(pending)))) }
            refreshIfStale()
            let known: MountEntry?
            switch namespace.lookUp(name) {
            case .folder?: return .failure(.errno(EISDIR))
            case nil: known = nil  // a file another client stored since the snapshot opens too
            case let .file(entry)?: known = entry
            }
            let backend = self.backend
            switch BlockingBridge.run({ try await backend.openReader(name) }) {
            case let .success(reader):
                let record = reader.record
                let entry = MountEntry(name: name, isFolder: false, size: record.body.size,
                                       modified: record.body.modificationSeconds, mode: known?.mode ?? 0)
                namespace.set(name, entry)
                // Read past the kernel's page cache when another client replaced the file since the kernel was told
                // its size (it would cut the new version at the old size), or when a handle still open reads another
                // version of it: the kernel keeps one page cache per name, and this open's pages would otherwise
                // serve that handle's reads (attack finding: a reader got a mix of two versions).
                let resized = known.map { $0.size != record.body.size } ?? true
                let otherVersionOpen = handles.readers(of: name).contains { $0.header.fileID != record.header.fileID }
                return .success(Opened(handles.add(.reading(reader)), directIO: resized || otherVersionOpen))
            case let .failure(error):
                return .failure(.errno(MountError.code(for: error)))
            }
        }
        guard !readOnly else { return .failure(.errno(EROFS)) }
        let existing = namespace.lookUp(name)
        if case .folder? = existing { return .failure(.errno(EISDIR)) }
        let empty: Bool
        if case let .file(entry)? = existing { empty = entry.size == 0 } else { empty = true }
        guard flags & O_TRUNC != 0 || empty else {
            return .failure(.errno(EOPNOTSUPP))
        }
        let mode: UInt32
        if case let .file(entry)? = existing, entry.mode != 0 { mode = entry.mode } else { mode = Self.filePermissions }
        return startWrite(name, mode: mode).map { Opened($0) }
    }

    /// An opened handle, and whether its reads must bypass the kernel's page cache (`direct_io`).
    struct Opened {
        var handle: UInt64
        var directIO = false
        init(_ handle: UInt64, directIO: Bool = false) {
            self.handle = handle
            self.directIO = directIO
        }
    }

    /// Creates `name` (in an existing folder) and opens it for writing.
    func create(_ name: String, mode: UInt32) -> Result<UInt64, MountError> {
        guard !readOnly else { return .failure(.errno(EROFS)) }
        switch namespace.lookUp(MountPath.parent(of: name)) {
        case .folder?: break
        case .file?: return .failure(.errno(ENOTDIR))
        case nil: return .failure(.errno(ENOENT))
        }
        if case .folder? = namespace.lookUp(name) { return .failure(.errno(EISDIR)) }
        return startWrite(name, mode: mode & 0o777)
    }

    private func startWrite(_ name: String, mode: UInt32) -> Result<UInt64, MountError> {
        let file: SpoolFile
        do { file = try spool.create() } catch {
            log("\(error)")
            return .failure(.errno(EIO))
        }
        let pending = PendingWrite(name: name, spool: file, mode: mode)
        let claimed = writing.withLock { writing -> Bool in
            guard writing[name] == nil else { return false }
            writing[name] = pending
            return true
        }
        guard claimed else { return .failure(.errno(EBUSY)) }  // one writer per name
        return .success(handles.add(.writing(pending)))
    }

    /// Reads into `buffer` at `offset`: the count, or a negated errno.
    func read(_ handle: UInt64, into buffer: UnsafeMutableRawBufferPointer, at offset: Int64) -> Int {
        guard offset >= 0 else { return -Int(EINVAL) }
        switch handles.file(handle) {
        case let .reading(reader)?:
            let count = buffer.count
            switch BlockingBridge.run({ try await reader.read(at: UInt64(offset), count: count) }) {
            case let .success(bytes):
                bytes.withUnsafeBytes { source in
                    if let base = source.baseAddress, !source.isEmpty {
                        buffer.baseAddress?.copyMemory(from: base, byteCount: source.count)
                    }
                }
                return bytes.count
            case let .failure(error):
                log("read of \(reader.record.body.name) failed: \(error)")
                return -Int(MountError.code(for: error))
            }
        case let .writing(pending)?:
            return pending.spool.read(into: buffer, at: offset)
        case nil:
            return -Int(EBADF)
        }
    }

    /// Writes `bytes` at `offset` into a file opened for writing (any order: it is a new content).
    func write(_ handle: UInt64, _ bytes: UnsafeRawBufferPointer, at offset: Int64) -> Int {
        guard case let .writing(pending)? = handles.file(handle) else { return -Int(EBADF) }
        guard offset >= 0 else { return -Int(EINVAL) }
        if let code = pending.spool.write(bytes, at: offset) {
            pending.fail(code)
            return -Int(code)
        }
        pending.markDirty()
        return bytes.count
    }

    /// Commits a written file as one put (`close`, `fsync`). 0, or -EIO when the put failed: the previous version
    /// stays (a later flush tries again only after new writes).
    func flush(_ handle: UInt64, by pid: Int32? = nil) -> Int32 {
        guard case let .writing(pending)? = handles.file(handle) else { return 0 }
        if let pid, !pending.commitsOnFlush(by: pid) { return 0 }  // another process closed its inherited copy
        return commit(pending)
    }

    /// Records which process opened `handle` for writing (see `PendingWrite.commitsOnFlush`).
    func setOpener(_ handle: UInt64, pid: Int32?) {
        if let pid, case let .writing(pending)? = handles.file(handle) { pending.setOpener(pid) }
    }

    private func commit(_ pending: PendingWrite) -> Int32 {
        if let code = pending.failed {
            log("\(pending.name) was not stored: a write to it failed (\(String(cString: strerror(code)))); the previous version stays")
            return -EIO
        }
        guard pending.takeDirty() else { return 0 }
        let backend = self.backend
        switch BlockingBridge.run({ try await backend.store(file: pending.spool.path, as: pending.name, mode: pending.mode) }) {
        case var .success(entry):
            entry.size = pending.spool.size
            namespace.set(pending.name, entry)
            return 0
        case let .failure(error):
            log("commit of \(pending.name) failed, the previous version stays: \(error)")
            return -EIO
        }
    }

    /// The last close of a handle: a write not committed yet is committed now (its result cannot reach the caller
    /// any more: `close` already returned flush's), and the spool goes.
    func release(_ handle: UInt64) -> Int32 {
        guard let file = handles.remove(handle) else { return -EBADF }
        guard case let .writing(pending) = file else { return 0 }
        let result = commit(pending)
        writing.withLock { writing in if writing[pending.name] === pending { writing[pending.name] = nil } }
        return result
    }

    // MARK: changes to names

    /// Truncation to 0 only: of an open written file, its spool; of a stored file, an empty version committed now.
    func truncate(_ name: String, to size: Int64, handle: UInt64?) -> Int32 {
        guard !readOnly else { return -EROFS }
        let pending: PendingWrite?
        if let handle, case let .writing(open)? = handles.file(handle) { pending = open } else {
            pending = writing.withLock { $0[name] }
        }
        if let pending {
            // A new content being written may take any length (cp of a sparse file ends with an ftruncate).
            if Int64(pending.spool.size) == size { return 0 }
            guard size >= 0 else { return -EINVAL }
            if let code = pending.spool.truncate(to: size) {
                pending.fail(code)
                return -code
            }
            pending.markDirty()
            return 0
        }
        switch namespace.lookUp(name) {
        case .folder?: return -EISDIR
        case nil: return -ENOENT
        case let .file(entry)?:
            if Int64(entry.size) == size { return 0 }
            guard size == 0 else { return -EOPNOTSUPP }
            guard case let .success(handle) = startWrite(name, mode: entry.mode == 0 ? Self.filePermissions : entry.mode)
            else { return -EBUSY }
            return release(handle)
        }
    }

    func remove(file name: String) -> Int32 {
        guard !readOnly else { return -EROFS }
        switch namespace.lookUp(name) {
        case .folder?: return -EISDIR
        case nil: return -ENOENT
        case .file?: break
        }
        if writing.withLock({ $0[name] != nil }) { return -EBUSY }
        let backend = self.backend
        switch BlockingBridge.run({ try await backend.remove(name) }) {
        case .success:
            namespace.set(name, nil)
            return 0
        case let .failure(error):
            log("removal of \(name) failed: \(error)")
            return -MountError.code(for: error)
        }
    }

    /// A stored folder entry (the folders above it get entries too); with a store that keeps none, a folder of this
    /// mount only, which stays while the mount runs and is stored as the prefix of a name once a file is stored in it.
    func makeFolder(_ name: String, mode: UInt32) -> Int32 {
        guard !readOnly else { return -EROFS }
        guard namespace.lookUp(name) == nil, writing.withLock({ $0[name] == nil }) else { return -EEXIST }
        switch namespace.lookUp(MountPath.parent(of: name)) {
        case .folder?: break
        case .file?: return -ENOTDIR
        case nil: return -ENOENT
        }
        let backend = self.backend
        let permissions = mode & 0o777
        switch BlockingBridge.run({ try await backend.makeFolder(name, mode: permissions) }) {
        case .success:
            namespace.set(name, MountEntry(name: name, isFolder: true, size: 0, modified: Int64(time(nil)),
                                           mode: permissions))
            return 0
        case .failure(MountError.unsupported):
            namespace.addLocalFolder(name)
            return 0
        case let .failure(error):
            log("mkdir \(name) failed: \(error)")
            return -MountError.code(for: error)
        }
    }

    func removeFolder(_ name: String) -> Int32 {
        guard !readOnly else { return -EROFS }
        guard !name.isEmpty else { return -EBUSY }
        guard case let .folder(entry)? = namespace.lookUp(name) else {
            return namespace.lookUp(name) == nil ? -ENOENT : -ENOTDIR
        }
        let hasChildren = !(namespace.children(of: name) ?? [:]).isEmpty
            || writing.withLock { $0.keys.contains { MountPath.parent(of: $0) == name } }
        guard !hasChildren else { return -ENOTEMPTY }
        if entry == nil, namespace.isLocalFolder(name) {
            return namespace.removeLocalFolder(name) ? 0 : -ENOTEMPTY
        }
        let backend = self.backend
        switch BlockingBridge.run({ try await backend.removeFolder(name) }) {
        case .success:
            namespace.set(name, nil)
            _ = namespace.removeLocalFolder(name)
            return 0
        case let .failure(error):
            log("rmdir \(name) failed: \(error)")
            return -MountError.code(for: error)
        }
    }

    /// A metadata-only rename of a file or a folder (no data moves), replacing a file or an empty folder at `to`;
    /// with a store that cannot, EXDEV, which makes `mv` copy and remove instead.
    func rename(_ from: String, to: String, flags: UInt32) -> Int32 {
        guard !readOnly else { return -EROFS }
        guard flags == 0 else { return -EINVAL }  // RENAME_EXCHANGE, RENAME_NOREPLACE: not offered
        guard !from.isEmpty, !to.isEmpty else { return -EBUSY }
        guard let source = namespace.lookUp(from) else { return -ENOENT }
        guard !to.hasPrefix(from + "/") else { return -EINVAL }
        if from == to { return 0 }
        if writing.withLock({ $0[from] != nil || $0[to] != nil }) { return -EBUSY }
        switch namespace.lookUp(MountPath.parent(of: to)) {
        case .folder?: break
        case .file?: return -ENOTDIR
        case nil: return -ENOENT
        }
        switch (source, namespace.lookUp(to)) {
        case (.file, .folder?): return -EISDIR
        case (.folder, .file?): return -ENOTDIR
        case (.folder, .folder?):
            if !(namespace.children(of: to) ?? [:]).isEmpty { return -ENOTEMPTY }
        default: break
        }
        if case .folder(nil) = source, namespace.isLocalFolder(from) {
            // A folder only this mount knows (no stored entry, nothing inside): renamed here.
            _ = namespace.removeLocalFolder(from)
            namespace.addLocalFolder(to)
            return 0
        }
        _ = namespace.removeLocalFolder(to)
        let backend = self.backend
        switch BlockingBridge.run({ try await backend.move(from, to: to) }) {
        case .success:
            namespace.move(from, to: to)
            return 0
        case .failure(MountError.unsupported):
            return -EXDEV
        case let .failure(error):
            log("rename \(from) failed: \(error)")
            return -MountError.code(for: error)
        }
    }

    /// Times of a file being written (the put records its modification time); stored files keep theirs.
    func setTimes(_ name: String, _ times: UnsafePointer<timespec>?, handle: UInt64?) -> Int32 {
        let pending: PendingWrite?
        if let handle, case let .writing(open)? = handles.file(handle) { pending = open } else {
            pending = writing.withLock { $0[name] }
        }
        guard let pending else { return namespace.lookUp(name) == nil ? -ENOENT : -EOPNOTSUPP }
        if let code = pending.spool.setTimes(times) { return -code }
        pending.markDirty()
        return 0
    }

    /// Permission changes of a file being written are kept until its commit; on stored names only those that change
    /// nothing succeed (cp sets a new folder's mode after filling it), since the store records no modes yet.
    func setPermissions(_ name: String, _ mode: UInt32) -> Int32 {
        guard !readOnly else { return -EROFS }
        if let pending = writing.withLock({ $0[name] }) {
            pending.setMode(mode)
            return 0
        }
        switch attributes(name) {
        case let .success(attributes): return attributes.permissions == mode & 0o777 ? 0 : -EOPNOTSUPP
        case let .failure(error): return -error.code
        }
    }

    /// Space for new data over every node that answered.
    func space() -> Result<ClusterSpace, MountError> {
        let backend = self.backend
        switch BlockingBridge.run({ try await backend.space() }) {
        case let .success(space): return .success(space)
        case let .failure(error): return .failure(.errno(MountError.code(for: error)))
        }
    }

    /// Open handles (for the unmount message).
    var openHandles: Int { handles.count }
}
