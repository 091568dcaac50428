#if canImport(Glibc)
import Glibc
#elseif canImport(Darwin)
import Darwin
#endif
import EDFSCrypto
import EDFSFormat

/// Which per-user folder a stored file lives in.
public enum StoreNamespace: String, Sendable {
    case objects
    case manifests

    var what: String { self == .objects ? "object" : "manifest" }
}

/// The durable per-user object files under a data directory (docs/STORAGE.md): `users/<user>/objects/<id>`
/// and `users/<user>/manifests/<id>`, every file ending in a block-checksum footer, and the user folders
/// themselves. Names are validated before they become paths. Manifests, keyslot and verifier with their freshness
/// rules are `MetadataStore`'s; checking every file is `Scrubber`'s. Blocking: call from a thread pool.
public final class ObjectStore: Sendable {
    /// Temporary files start with this; no valid id does (ids never start with `.`).
    static let temporaryPrefix = ".tmp-"

    /// The data directory.
    public let root: String
    /// Data bytes per checksummed block.
    public let blockSize: Int
    /// The folder fsyncs after renames and unlinks, grouped (group commit).
    let flusher: FolderFlusher
    /// Sorted names of recently listed folders, for the later pages of a listing.
    let listings = ListingCache()
    /// Users whose folders this store has seen or made (so a write does not re-check them with three mkdir calls);
    /// at most one entry per configured user, as only logged-in users write. Dropped again if a folder is gone.
    private let readyUsers = PthreadMutex<Set<String>>([])
    /// `DirectIO:`: large objects' data written and read past the page cache; nil: buffered.
    let directIO: DirectIO?

    /// Opens (creating if needed) the store under `root`; with `directIO`, objects of 4 MiB or more are written and
    /// served past the page cache (where the system has O_DIRECT).
    public convenience init(root: String, blockSize: Int = 1 << 20, directIO: Bool = false) throws(StoreError) {
        try self.init(root: root, blockSize: blockSize, flusher: FolderFlusher(),
                      directIO: directIO ? DirectIO(blockSize: blockSize) : nil)
    }

    /// Opens the store under `root`, flushing folders through `flusher` (tests pass one that counts or delays).
    init(root: String, blockSize: Int, flusher: FolderFlusher, directIO: DirectIO? = nil) throws(StoreError) {
        precondition(StoredFooter.blockSizeRange.contains(blockSize), "block size out of range")
        self.root = root
        self.blockSize = blockSize
        self.flusher = flusher
        self.directIO = directIO
        try FileIO.makeDirectory(root)
        try FileIO.makeDirectory(root + "/users")
    }

    static func randomSuffix() -> String {
        var generator = SystemRandomNumberGenerator()
        return Hex.encode(withUnsafeBytes(of: generator.next() as UInt64) { Array($0) })
    }

    // MARK: Paths

    func userDirectory(_ user: String) throws(StoreError) -> String {
        guard NameRules.isValidUserName(user) else { throw .invalidName("user name \(WireName.quoted(user)) is not allowed") }
        return root + "/users/" + user
    }

    func directory(_ user: String, _ namespace: StoreNamespace) throws(StoreError) -> String {
        try userDirectory(user) + "/" + namespace.rawValue
    }

    func validated(_ id: String, _ namespace: StoreNamespace) throws(StoreError) -> String {
        guard WireName.isValidID(id) else {
            throw .invalidName("\(namespace.what) id \(WireName.quoted(id)) is not allowed")
        }
        return id
    }

    /// The path of a stored file (for tests and tools that inspect the disk).
    public func path(user: String, namespace: StoreNamespace, id: String) throws(StoreError) -> String {
        try directory(user, namespace) + "/" + validated(id, namespace)
    }

    /// Creates the user's folders if missing, fsyncing each parent whose entries changed.
    func ensureUserDirectories(_ user: String) throws(StoreError) {
        let userDir = try userDirectory(user)
        if try FileIO.makeDirectory(userDir) { try FileIO.fsyncDirectory(root + "/users") }
        var created = false
        for namespace in [StoreNamespace.objects, .manifests] {
            if try FileIO.makeDirectory(userDir + "/" + namespace.rawValue) { created = true }
        }
        if created { try FileIO.fsyncDirectory(userDir) }
        readyUsers.withLock { _ = $0.insert(user) }
    }

    /// Opens a temporary file for `finalName` in `directory`, one of `user`'s folders, creating the user's folders
    /// on the user's first write. Later writes skip that check; if a folder has gone meanwhile (removed by hand),
    /// the open fails, the folders are made again and the open is retried once.
    func makeWriter(user: String, what: String, directory: String, finalName: String,
                    length: UInt64, direct: DirectIO? = nil) throws(StoreError) -> ObjectWriter {
        if !readyUsers.withLock({ $0.contains(user) }) { try ensureUserDirectories(user) }
        do throws(StoreError) {
            return try ObjectWriter(what: what, directory: directory, finalName: finalName, announcedLength: length,
                                    blockSize: blockSize, flusher: flusher, listings: listings, direct: direct)
        } catch .notFound {
            readyUsers.withLock { _ = $0.remove(user) }
            try ensureUserDirectories(user)
            return try ObjectWriter(what: what, directory: directory, finalName: finalName, announcedLength: length,
                                    blockSize: blockSize, flusher: flusher, listings: listings, direct: direct)
        }
    }

    // MARK: Start-up

    /// Removes temporary files a crash left behind; returns how many.
    @discardableResult
    public func removeTemporaries() throws(StoreError) -> Int {
        var removed = 0
        for user in try FileIO.listDirectory(root + "/users") where NameRules.isValidUserName(user) {
            let userDir = root + "/users/" + user
            for dir in [userDir, userDir + "/objects", userDir + "/manifests", userDir + "/" + MetadataStore.historyName] {
                var changed = false
                for name in try FileIO.listDirectory(dir) where name.hasPrefix(Self.temporaryPrefix) {
                    if try FileIO.removeFile(dir + "/" + name, what: "temporary file") {
                        removed += 1
                        changed = true
                    }
                }
                if changed { try FileIO.fsyncDirectory(dir) }
            }
        }
        return removed
    }

    /// Temporary files present now (for tests).
    public func temporaryFiles() throws(StoreError) -> [String] {
        var found: [String] = []
        for user in try FileIO.listDirectory(root + "/users") where NameRules.isValidUserName(user) {
            let userDir = root + "/users/" + user
            for dir in [userDir, userDir + "/objects", userDir + "/manifests", userDir + "/" + MetadataStore.historyName] {
                for name in try FileIO.listDirectory(dir) where name.hasPrefix(Self.temporaryPrefix) {
                    found.append(dir + "/" + name)
                }
            }
        }
        return found
    }

    // MARK: Objects

    /// Starts writing an object of exactly `length` bytes; refuses up front when the disk cannot hold it.
    public func beginWrite(user: String, namespace: StoreNamespace = .objects, id: String,
                           length: UInt64) throws(StoreError) -> ObjectWriter {
        let name = try validated(id, namespace)
        let dir = try directory(user, namespace)
        let needed = length + UInt64(StoredFooter.blockCount(dataLength: length, blockSize: blockSize) * 8
            + StoredFooter.trailerLength)
        // A file system that reports no size at all (ramfs) has no free space to check: its writes decide.
        if let space = try? FileIO.space(root), space.total > 0, space.free < needed {
            throw .storageFull("\(needed) bytes needed, \(space.free) free")
        }
        let direct = namespace == .objects && length >= UInt64(directIO?.threshold ?? Int.max) ? directIO : nil
        return try makeWriter(user: user, what: namespace.what, directory: dir, finalName: name, length: length,
                              direct: direct)
    }

    /// Opens a stored object or manifest for verified reading. `serving` (a GET): an object of 4 MiB or more is read
    /// past the page cache when `DirectIO:` is on.
    public func openReader(user: String, namespace: StoreNamespace = .objects, id: String,
                           serving: Bool = false) throws(StoreError) -> ObjectReader {
        let path = try path(user: user, namespace: namespace, id: id)
        let direct = serving && namespace == .objects ? directIO : nil
        return try ObjectReader(descriptor: FileIO.openFile(path, O_RDONLY, what: namespace.what),
                                what: namespace.what, direct: direct)
    }

    /// Length and checksum state of a stored object; `verify` reads every block.
    public func stat(user: String, namespace: StoreNamespace = .objects, id: String,
                     verify: Bool) throws(StoreError) -> (length: UInt64, blockSize: Int, state: WireChecksumState) {
        let reader: ObjectReader
        do throws(StoreError) {
            reader = try openReader(user: user, namespace: namespace, id: id)
        } catch .checksumMismatch {
            return (0, blockSize, .corrupt)
        }
        guard verify else { return (reader.length, reader.blockSize, .footerIntact) }
        do throws(StoreError) {
            try reader.verifyAll()
        } catch .checksumMismatch {
            return (reader.length, reader.blockSize, .corrupt)
        }
        return (reader.length, reader.blockSize, .verified)
    }

    /// Removes a stored object or manifest; `notFound` if there is none.
    public func delete(user: String, namespace: StoreNamespace = .objects, id: String) throws(StoreError) {
        try unlink(user: user, namespace: namespace, id: id)
        try flusher.flush(try directory(user, namespace))
    }

    /// Removes a stored object or manifest without flushing its folder (the caller flushes before it answers);
    /// `notFound` if there is none.
    func unlink(user: String, namespace: StoreNamespace = .objects, id: String) throws(StoreError) {
        let target = try path(user: user, namespace: namespace, id: id)
        guard try FileIO.removeFile(target, what: namespace.what) else { throw .notFound(namespace.what) }
        listings.changed(try directory(user, namespace))
    }

    /// One page of a user's objects or manifests, in byte order of their names. The first page reads the folder;
    /// the next ones take its sorted names from `listings` while they are fresh (see `ListingCache`).
    public func list(user: String, namespace: StoreNamespace, startAfter: String,
                     limit: Int) throws(StoreError) -> (entries: [WireListEntry], more: Bool) {
        let dir = try directory(user, namespace)
        let names = try listings.names(dir, fresh: startAfter.isEmpty) { () throws(StoreError) -> [String] in
            try FileIO.listDirectory(dir).filter { WireName.isValidID($0) }.sorted()
        }
        // The first name after `startAfter` (binary search: the names are sorted).
        var low = 0
        var high = names.count
        while low < high {
            let middle = (low + high) / 2
            if names[middle] <= startAfter { low = middle + 1 } else { high = middle }
        }
        let page = names[low...].prefix(max(0, limit))
        var entries: [WireListEntry] = []
        entries.reserveCapacity(page.count)
        for name in page {
            entries.append(WireListEntry(name: name, length: storedLength(dir + "/" + name)))
        }
        return (entries, names.count - low > page.count)
    }

    /// The data length of a stored file whose footer checks out, else `UInt64.max`.
    private func storedLength(_ path: String) -> UInt64 {
        (try? ObjectReader(path: path, what: "file").length) ?? UInt64.max
    }

    /// How many objects and manifests a user has.
    public func counts(user: String) throws(StoreError) -> (objects: Int, manifests: Int) {
        let objects = try FileIO.listDirectory(directory(user, .objects)).filter { WireName.isValidID($0) }.count
        let manifests = try FileIO.listDirectory(directory(user, .manifests)).filter { WireName.isValidID($0) }.count
        return (objects, manifests)
    }

    /// Bytes on disk (data and footers) of a user's objects and manifests.
    public func storedBytes(user: String) throws(StoreError) -> UInt64 {
        var total: UInt64 = 0
        for namespace in [StoreNamespace.objects, .manifests] {
            let dir = try directory(user, namespace)
            for name in try FileIO.listDirectory(dir) where WireName.isValidID(name) {
                total += try FileIO.status(dir + "/" + name)?.size ?? 0
            }
        }
        return total
    }

    /// Free and total bytes of the data directory's file system.
    public func space() throws(StoreError) -> (free: UInt64, total: UInt64) { try FileIO.space(root) }

    /// A whole stored file, verified.
    public func readAll(user: String, namespace: StoreNamespace, id: String) throws(StoreError) -> [UInt8] {
        try openReader(user: user, namespace: namespace, id: id).readAll()
    }
}
