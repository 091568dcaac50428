#if canImport(Glibc)
import Glibc
#elseif canImport(Darwin)
import Darwin
#endif
import EDFSCrypto
import EDFSFormat
import Synchronization

/// Which per-user folder a stored file lives in.
public enum StoreNamespace: String, Sendable {
    case objects
    case manifests

    var what: String { self == .objects ? "object" : "manifest" }
}

/// The durable per-user store under a data directory (docs/STORAGE.md):
/// `users/<user>/objects/<id>`, `users/<user>/manifests/<id>`, `users/<user>/keyslot`, every file ending in a
/// block-checksum footer. Names are validated before they become paths. Blocking: call from a thread pool.
public final class ObjectStore: Sendable {
    /// Temporary files start with this; no valid id does (ids never start with `.`).
    static let temporaryPrefix = ".tmp-"
    static let keyslotName = "keyslot"
    static let verifierName = "verifier"

    /// The data directory.
    public let root: String
    /// Data bytes per checksummed block.
    public let blockSize: Int
    /// Serialises check-and-replace of manifests and keyslots.
    private let metadataLock = Mutex<Void>(())

    /// Opens (creating if needed) the store under `root`.
    public init(root: String, blockSize: Int = 1 << 20) throws(StoreError) {
        precondition(StoredFooter.blockSizeRange.contains(blockSize), "block size out of range")
        self.root = root
        self.blockSize = blockSize
        try FileIO.makeDirectory(root)
        try FileIO.makeDirectory(root + "/users")
    }

    static func randomSuffix() -> String {
        var generator = SystemRandomNumberGenerator()
        return Hex.encode(withUnsafeBytes(of: generator.next() as UInt64) { Array($0) })
    }

    // MARK: Paths

    private func userDirectory(_ user: String) throws(StoreError) -> String {
        guard NameRules.isValidUserName(user) else { throw .invalidName("user name \(WireName.quoted(user)) is not allowed") }
        return root + "/users/" + user
    }

    private func directory(_ user: String, _ namespace: StoreNamespace) throws(StoreError) -> String {
        try userDirectory(user) + "/" + namespace.rawValue
    }

    private func validated(_ id: String, _ namespace: StoreNamespace) throws(StoreError) -> String {
        guard WireName.isValidID(id) else {
            throw .invalidName("\(namespace.what) id \(WireName.quoted(id)) is not allowed")
        }
        return id
    }

    /// The path of a stored file (for tests and tools that inspect the disk).
    public func path(user: String, namespace: StoreNamespace, id: String) throws(StoreError) -> String {
        try directory(user, namespace) + "/" + validated(id, namespace)
    }

    /// The path of a user's keyslot.
    public func keyslotPath(user: String) throws(StoreError) -> String {
        try userDirectory(user) + "/" + Self.keyslotName
    }

    /// Creates the user's folders if missing, fsyncing each parent whose entries changed.
    private func ensureUserDirectories(_ user: String) throws(StoreError) {
        let userDir = try userDirectory(user)
        if try FileIO.makeDirectory(userDir) { try FileIO.fsyncDirectory(root + "/users") }
        var created = false
        for namespace in [StoreNamespace.objects, .manifests] {
            if try FileIO.makeDirectory(userDir + "/" + namespace.rawValue) { created = true }
        }
        if created { try FileIO.fsyncDirectory(userDir) }
    }

    // MARK: Start-up

    /// Removes temporary files a crash left behind; returns how many.
    @discardableResult
    public func removeTemporaries() throws(StoreError) -> Int {
        var removed = 0
        for user in try FileIO.listDirectory(root + "/users") where NameRules.isValidUserName(user) {
            let userDir = root + "/users/" + user
            for dir in [userDir, userDir + "/objects", userDir + "/manifests"] {
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
            for dir in [userDir, userDir + "/objects", userDir + "/manifests"] {
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
        if let space = try? FileIO.space(root), space.free < needed {
            throw .storageFull("\(needed) bytes needed, \(space.free) free")
        }
        try ensureUserDirectories(user)
        return try ObjectWriter(what: namespace.what, directory: dir, finalName: name, announcedLength: length,
                                blockSize: blockSize)
    }

    /// Opens a stored object or manifest for verified reading.
    public func openReader(user: String, namespace: StoreNamespace = .objects, id: String) throws(StoreError) -> ObjectReader {
        try ObjectReader(path: path(user: user, namespace: namespace, id: id), what: namespace.what)
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
        let target = try path(user: user, namespace: namespace, id: id)
        guard try FileIO.removeFile(target, what: namespace.what) else { throw .notFound(namespace.what) }
        try FileIO.fsyncDirectory(try directory(user, namespace))
    }

    /// One page of a user's objects or manifests, in byte order of their names.
    public func list(user: String, namespace: StoreNamespace, startAfter: String,
                     limit: Int) throws(StoreError) -> (entries: [WireListEntry], more: Bool) {
        let dir = try directory(user, namespace)
        let names = try FileIO.listDirectory(dir).filter { WireName.isValidID($0) && $0 > startAfter }.sorted()
        var entries: [WireListEntry] = []
        for name in names.prefix(limit) {
            entries.append(WireListEntry(name: name, length: storedLength(dir + "/" + name)))
        }
        return (entries, names.count > limit)
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

    /// Free and total bytes of the data directory's file system.
    public func space() throws(StoreError) -> (free: UInt64, total: UInt64) { try FileIO.space(root) }

    // MARK: Small files

    /// A whole stored file, verified.
    public func readAll(user: String, namespace: StoreNamespace, id: String) throws(StoreError) -> [UInt8] {
        try openReader(user: user, namespace: namespace, id: id).readAll()
    }

    /// Stores `bytes` under `finalName` in `directory` via a sealed temporary file; `decide` runs under the
    /// metadata lock just before the rename and may refuse (throw) or skip (return false) the replacement.
    private func replaceSmallFile(user: String, what: String, directory dir: String, finalName: String, bytes: [UInt8],
                                  decide: () throws(StoreError) -> Bool) throws(StoreError) {
        guard bytes.count <= WireProtocol.maxMetadataLength else {
            throw .tooLarge("\(what) is larger than \(WireProtocol.maxMetadataLength) bytes")
        }
        try ensureUserDirectories(user)
        let writer = try ObjectWriter(what: what, directory: dir, finalName: finalName,
                                      announcedLength: UInt64(bytes.count), blockSize: blockSize)
        try writer.append(bytes)
        try writer.seal()
        try metadataLock.withLock { (_: inout Void) throws(StoreError) in
            guard try decide() else {
                writer.abort()
                return
            }
            try writer.publish()
        }
    }

    /// Stores a manifest if its header version is newer than the stored one's (docs/PROTOCOL.md).
    public func putManifest(user: String, id: String, bytes: [UInt8]) throws(StoreError) {
        let name = try validated(id, .manifests)
        let header: ManifestHeader
        do {
            header = try ManifestHeader.decode(prefixOf: bytes)
        } catch {
            throw .invalid("manifest header does not decode: \(error)")
        }
        guard header.manifestID.hex == name else { throw .invalid("manifest header names another manifest id") }
        let target = try path(user: user, namespace: .manifests, id: name)
        try replaceSmallFile(user: user, what: "manifest", directory: try directory(user, .manifests), finalName: name,
                             bytes: bytes) { () throws(StoreError) -> Bool in
            // A writer whose session predates a key rotation would seal at an epoch the keyslot is about to drop
            // (or already dropped): refuse it, so it reopens its session instead of committing an unreadable manifest.
            if let slot = try? ObjectReader(path: keyslotPath(user: user), what: "keyslot").readAll(),
               let slotHeader = try? KeyslotHeader.decode(prefixOf: slot), header.keyEpoch < slotHeader.epoch {
                throw .stale("manifest key epoch \(header.keyEpoch) is older than the keyslot's epoch \(slotHeader.epoch); "
                    + "reopen the session")
            }
            guard let stored = try storedManifestVersion(target) else { return true }
            guard header.version > stored else {
                throw .stale("manifest version \(header.version) is not newer than the stored version \(stored)")
            }
            return true
        }
    }

    /// The version of the stored manifest at `path`; nil when there is none, or it is corrupt (then it may be
    /// replaced by any version: that is how a damaged copy gets repaired).
    private func storedManifestVersion(_ path: String) throws(StoreError) -> UInt64? {
        do throws(StoreError) {
            let stored = try ObjectReader(path: path, what: "manifest").readAll()
            return try? ManifestHeader.decode(prefixOf: stored).version
        } catch .notFound {
            return nil
        } catch .checksumMismatch {
            return nil
        }
    }

    /// Removes a manifest if its stored version is at most `bound`.
    public func deleteManifest(user: String, id: String, ifVersionAtMost bound: UInt64) throws(StoreError) {
        let target = try path(user: user, namespace: .manifests, id: id)
        try metadataLock.withLock { (_: inout Void) throws(StoreError) in
            if bound != UInt64.max, let stored = try storedManifestVersion(target), stored > bound {
                throw .stale("stored manifest version \(stored) is newer than \(bound)")
            }
            guard try FileIO.removeFile(target, what: "manifest") else { throw .notFound("manifest") }
        }
        try FileIO.fsyncDirectory(try directory(user, .manifests))
    }

    /// Stores a keyslot if it supersedes the stored one (higher revision, no older epoch), or is byte-identical.
    public func putKeyslot(user: String, bytes: [UInt8]) throws(StoreError) {
        let header: KeyslotHeader
        do {
            header = try KeyslotHeader.decode(prefixOf: bytes)
        } catch {
            throw .invalid("keyslot header does not decode: \(error)")
        }
        let target = try keyslotPath(user: user)
        try replaceSmallFile(user: user, what: "keyslot", directory: try userDirectory(user),
                             finalName: Self.keyslotName, bytes: bytes) { () throws(StoreError) -> Bool in
            let stored: [UInt8]
            do throws(StoreError) {
                stored = try ObjectReader(path: target, what: "keyslot").readAll()
            } catch .notFound {
                return true
            } catch .checksumMismatch {
                return true
            }
            guard let storedHeader = try? KeyslotHeader.decode(prefixOf: stored) else { return true }
            if header.supersedes(storedHeader) { return true }
            if stored == bytes { return false }  // a harmless retry: nothing to write
            throw .stale("keyslot epoch \(header.epoch) revision \(header.revision) does not supersede the stored "
                + "epoch \(storedHeader.epoch) revision \(storedHeader.revision)")
        }
    }

    /// Stores the user's login verifier (16 bytes: MD5 of the password, the seed's legacy method); it overrides the
    /// config's `Password:` line for that user from the next login on (`edfs passwd`).
    public func putVerifier(user: String, digest: [UInt8]) throws(StoreError) {
        guard digest.count == 16 else { throw .invalid("a legacy verifier is 16 bytes") }
        try replaceSmallFile(user: user, what: "verifier", directory: try userDirectory(user),
                             finalName: Self.verifierName, bytes: digest) { () throws(StoreError) -> Bool in true }
    }

    /// What the node knows of a user's stored login verifier.
    public enum StoredVerifier: Sendable, Equatable {
        /// None stored: the config's `Password:` line applies.
        case none
        case digest([UInt8])
        /// Stored but unreadable (checksum mismatch, wrong size): logins fail until an operator removes the file.
        case damaged
    }

    /// The user's stored login verifier. Removing `users/<user>/verifier` resets the user to the config's line.
    public func verifier(user: String) -> StoredVerifier {
        guard let path = try? userDirectory(user) + "/" + Self.verifierName else { return .none }
        do throws(StoreError) {
            let bytes = try ObjectReader(path: path, what: "verifier").readAll()
            return bytes.count == 16 ? .digest(bytes) : .damaged
        } catch .notFound {
            return .none
        } catch {
            return .damaged
        }
    }

    /// The user's keyslot, verified.
    public func getKeyslot(user: String) throws(StoreError) -> [UInt8] {
        try ObjectReader(path: keyslotPath(user: user), what: "keyslot").readAll()
    }

    // MARK: Scrub

    /// What a scrub found.
    public struct ScrubReport: Equatable, Sendable {
        public var filesChecked = 0
        public var bytesChecked: UInt64 = 0
        /// Paths (relative to the data directory) whose footer or a block failed its checksum.
        public var corrupt: [String] = []
    }

    /// Reads every stored file of every user and checks every block.
    public func scrub() throws(StoreError) -> ScrubReport {
        var report = ScrubReport()
        for user in try FileIO.listDirectory(root + "/users").sorted() where NameRules.isValidUserName(user) {
            let base = "users/" + user
            var files: [(relative: String, what: String)] = []
            for namespace in [StoreNamespace.objects, .manifests] {
                for name in try FileIO.listDirectory(root + "/" + base + "/" + namespace.rawValue).sorted()
                where WireName.isValidID(name) {
                    files.append((base + "/" + namespace.rawValue + "/" + name, namespace.what))
                }
            }
            if (try? FileIO.listDirectory(root + "/" + base).contains(Self.keyslotName)) == true {
                files.append((base + "/" + Self.keyslotName, "keyslot"))
            }
            for (relative, what) in files {
                report.filesChecked += 1
                do throws(StoreError) {
                    let reader = try ObjectReader(path: root + "/" + relative, what: what)
                    try reader.verifyAll()
                    report.bytesChecked += reader.length
                } catch .checksumMismatch {
                    report.corrupt.append(relative)
                } catch .notFound {
                    report.filesChecked -= 1  // removed while scrubbing
                }
            }
        }
        return report
    }
}
