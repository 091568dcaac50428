import EDFSFormat

/// A user's small metadata files and the rules that keep them fresh (docs/PROTOCOL.md, docs/STORAGE.md):
/// manifests (a write must carry a newer version and no older key epoch than the keyslot; a delete may be bounded
/// by version), the keyslot (a write must supersede the stored one by epoch and revision) and the login verifier.
/// Each check and the rename it guards run under the user's own lock, so two writers of one user cannot both win
/// while other users never wait; the files' fsyncs run before the lock is taken and the folder fsyncs after it is
/// released (grouped: `FolderFlusher`). Blocking: call from a thread pool.
public final class MetadataStore: Sendable {
    static let keyslotName = "keyslot"
    static let verifierName = "verifier"

    /// The object files and user folders the metadata lives beside.
    public let objects: ObjectStore
    let locks = UserLocks()
    /// File ids named by each user's manifests here (an object they name is never deleted).
    let references = ManifestReferences()

    /// Metadata beside the files of `objects`.
    public init(objects: ObjectStore) {
        self.objects = objects
    }

    /// The path of a user's keyslot.
    public func keyslotPath(user: String) throws(StoreError) -> String {
        try objects.userDirectory(user) + "/" + Self.keyslotName
    }

    /// Users whose lock is held or awaited now (for tests).
    var lockedUsers: Int { locks.count }

    /// Stores `bytes` under `finalName` in `directory` via a durable temporary file; `decide` runs under the
    /// user's lock just before the rename and may refuse (throw) or skip (return false) the replacement.
    ///
    /// Only the check and the rename hold the lock: the temporary file is written and fsynced before, and the folder
    /// fsync comes after, shared with every writer that renamed in that folder meanwhile (`FolderFlusher`), so one
    /// user's writes overlap their flushes instead of queueing behind each other's. Whatever the caller is told
    /// (stored, skipped as a retry, refused as stale) rests on what the check saw, which may be another writer's
    /// rename not yet flushed: so every outcome waits for a folder flush that started after the check.
    private func replaceSmallFile(user: String, what: String, directory dir: String, finalName: String, bytes: [UInt8],
                                  decide: () throws(StoreError) -> Bool,
                                  published: () -> Void = {}) throws(StoreError) {
        guard bytes.count <= WireProtocol.maxMetadataLength else {
            throw .tooLarge("\(what) is larger than \(WireProtocol.maxMetadataLength) bytes")
        }
        let writer = try objects.makeWriter(user: user, what: what, directory: dir, finalName: finalName,
                                            length: UInt64(bytes.count))
        try writer.append(bytes)
        try writer.makeDurable()
        var outcome: StoreError?
        do throws(StoreError) {
            try locks.withLock(user: user) { () throws(StoreError) in
                guard try decide() else {
                    writer.abort()
                    return
                }
                try writer.renameIntoPlace()
                published()
            }
        } catch {
            writer.abort()
            outcome = error
        }
        try objects.flusher.flush(dir)
        if let outcome { throw outcome }
    }

    /// Stores a manifest if its header version is newer than the stored one's (docs/PROTOCOL.md).
    public func putManifest(user: String, id: String, bytes: [UInt8]) throws(StoreError) {
        let (name, header) = try decodedManifest(id: id, bytes: bytes)
        let target = try objects.path(user: user, namespace: .manifests, id: name)
        var replacedFileID: String?
        try replaceSmallFile(user: user, what: "manifest", directory: try objects.directory(user, .manifests), finalName: name,
                             bytes: bytes, decide: { () throws(StoreError) -> Bool in
            replacedFileID = try checkManifest(header, target: target, keyslotEpoch: keyslotEpoch(user: user))
            return true
        }, published: {
            references.replaced(user: user, old: replacedFileID, new: header.fileID.hex)
        })
    }

    /// One PUT_MANIFESTS item written and fsynced to its temporary file, not yet checked nor renamed.
    public struct PreparedManifest: Sendable {
        let header: ManifestHeader
        let target: String
        let writer: ObjectWriter
    }

    /// PUT_MANIFESTS: stores each of `items` by exactly the rules of `putManifest` and returns each one's outcome
    /// (nil: stored durably), in order: `prepareManifests` then `commitManifests` (the node's dispatcher runs the
    /// first on several threads for a long request).
    public func putManifests(user: String, items: [WireManifestWrite]) throws(StoreError) -> [StoreError?] {
        try commitManifests(user: user, try prepareManifests(user: user, items: items[...]))
    }

    /// The first half of PUT_MANIFESTS for some of its items: each written to a temporary file and fsynced, or the
    /// refusal its own PUT_MANIFEST would get before its check (a header that does not decode or names another id).
    public func prepareManifests(user: String,
                                 items: ArraySlice<WireManifestWrite>) throws(StoreError) -> [Result<PreparedManifest, StoreError>] {
        let directory = try objects.directory(user, .manifests)
        return items.map { item -> Result<PreparedManifest, StoreError> in
            do throws(StoreError) {
                let (name, header) = try decodedManifest(id: item.id, bytes: item.bytes)
                guard item.bytes.count <= WireProtocol.maxMetadataLength else {
                    throw .tooLarge("manifest is larger than \(WireProtocol.maxMetadataLength) bytes")
                }
                let target = try objects.path(user: user, namespace: .manifests, id: name)
                let writer = try objects.makeWriter(user: user, what: "manifest", directory: directory, finalName: name,
                                                    length: UInt64(item.bytes.count))
                do throws(StoreError) {
                    try writer.append(item.bytes)
                    try writer.makeDurable()
                } catch {
                    writer.abort()
                    throw error
                }
                return .success(PreparedManifest(header: header, target: target, writer: writer))
            } catch {
                return .failure(error)
            }
        }
    }

    /// The second half of PUT_MANIFESTS: one hold of the user's lock runs the checks and renames in item order (a
    /// later item of the same id is checked against an earlier one, as two PUT_MANIFESTs one after the other), then
    /// one flush of the folder, which every outcome waits for: a failed flush fails the whole request (nothing is
    /// claimed durable). Returns each item's outcome (nil: stored).
    public func commitManifests(user: String, _ prepared: [Result<PreparedManifest, StoreError>]) throws(StoreError)
        -> [StoreError?] {
        let outcomes = try locks.withLock(user: user) { () throws(StoreError) -> [StoreError?] in
            checkAndRename(user: user, prepared)
        }
        try objects.flusher.flush(try objects.directory(user, .manifests))
        return outcomes
    }

    /// The checks and renames of `commitManifests`, under the user's lock: each item's outcome (nil: renamed).
    private func checkAndRename(user: String, _ prepared: [Result<PreparedManifest, StoreError>]) -> [StoreError?] {
        let epoch = keyslotEpoch(user: user)
        return prepared.map { item -> StoreError? in
            do throws(StoreError) {
                let ready = try item.get()
                do throws(StoreError) {
                    let replaced = try checkManifest(ready.header, target: ready.target, keyslotEpoch: epoch)
                    try ready.writer.renameIntoPlace()
                    references.replaced(user: user, old: replaced, new: ready.header.fileID.hex)
                    return nil
                } catch {
                    ready.writer.abort()
                    throw error
                }
            } catch {
                return error
            }
        }
    }

    /// The validated manifest name of `id` and the header of `bytes`, which must name that id.
    private func decodedManifest(id: String, bytes: [UInt8]) throws(StoreError) -> (String, ManifestHeader) {
        let name = try objects.validated(id, .manifests)
        let header: ManifestHeader
        do {
            header = try ManifestHeader.decode(prefixOf: bytes)
        } catch {
            throw .invalid("manifest header does not decode: \(error)")
        }
        guard header.manifestID.hex == name else { throw .invalid("manifest header names another manifest id") }
        return (name, header)
    }

    /// The key epoch of the user's stored keyslot, when one is stored and readable.
    private func keyslotEpoch(user: String) -> UInt32? {
        guard let path = try? keyslotPath(user: user),
              let slot = try? ObjectReader(path: path, what: "keyslot").readAll() else { return nil }
        return (try? KeyslotHeader.decode(prefixOf: slot))?.epoch
    }

    /// The checks of a manifest write, under the user's lock (docs/PROTOCOL.md): refuses a manifest sealed at a key
    /// epoch older than the keyslot's, or not newer than the one stored at `target`; returns the file id of the one it
    /// replaces, if any.
    private func checkManifest(_ header: ManifestHeader, target: String,
                               keyslotEpoch: UInt32?) throws(StoreError) -> String? {
        // A writer whose session predates a key rotation would seal at an epoch the keyslot is about to drop
        // (or already dropped): refuse it, so it reopens its session instead of committing an unreadable manifest.
        if let keyslotEpoch, header.keyEpoch < keyslotEpoch {
            throw .stale("manifest key epoch \(header.keyEpoch) is older than the keyslot's epoch \(keyslotEpoch); "
                + "reopen the session")
        }
        let stored = try storedManifest(target)
        guard let version = stored.version else { return stored.fileID }
        guard header.version > version else {
            throw .stale("manifest version \(header.version) is not newer than the stored version \(version)")
        }
        return stored.fileID
    }

    /// The file id the stored manifest at `path` names, if its header reads.
    private func storedFileID(_ path: String) -> String? {
        guard let prefix = try? FileIO.readPrefix(path, count: ManifestHeader.byteCount, what: "manifest") else { return nil }
        return (try? ManifestHeader.decode(prefixOf: prefix))?.fileID.hex
    }

    /// Deletes the stored object `id` of `user`, unless a manifest on this node names its file id (`inUse`): an
    /// object a manifest here still names is live data, whatever a client believes.
    public func deleteObject(user: String, id: String) throws(StoreError) {
        guard let fileID = OrphanCollector.fileID(ofObject: id) else {
            try objects.delete(user: user, id: id)
            return
        }
        try locks.withLock(user: user) { () throws(StoreError) in
            let named = try references.names(user: user, fileID: fileID) { () throws(StoreError) -> [String]? in
                let folder = try objects.directory(user, .manifests)
                var ids = [String]()
                for name in try FileIO.listDirectory(folder) where !name.hasPrefix(".") {
                    let prefix: [UInt8]
                    do throws(StoreError) {
                        prefix = try FileIO.readPrefix(folder + "/" + name, count: ManifestHeader.byteCount, what: "manifest")
                    } catch .notFound {
                        continue
                    }
                    guard let header = try? ManifestHeader.decode(prefixOf: prefix) else { return nil }
                    ids.append(header.fileID.hex)
                }
                return ids
            }
            guard !named else {
                throw .inUse("object \(id) is named by a manifest on this node; it is kept")
            }
            try objects.unlink(user: user, id: id)
        }
        try objects.flusher.flush(try objects.directory(user, .objects))
    }

    /// The version and file id of the stored manifest at `path`, from one read: the version is nil when there is
    /// none or it is corrupt (see `storedManifestVersion`); the file id comes from the raw header even then.
    private func storedManifest(_ path: String) throws(StoreError) -> (version: UInt64?, fileID: String?) {
        do throws(StoreError) {
            let stored = try ObjectReader(path: path, what: "manifest").readAll()
            guard let header = try? ManifestHeader.decode(prefixOf: stored) else { return (nil, storedFileID(path)) }
            return (header.version, header.fileID.hex)
        } catch .notFound {
            return (nil, nil)
        } catch .checksumMismatch {
            return (nil, storedFileID(path))
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

    /// Removes a manifest if its stored version is at most `bound`. Like a write, every answer (removed, stale,
    /// none) waits for a flush of the folder that started after the check (see `replaceSmallFile`).
    public func deleteManifest(user: String, id: String, ifVersionAtMost bound: UInt64) throws(StoreError) {
        let target = try objects.path(user: user, namespace: .manifests, id: id)
        var outcome: StoreError?
        do throws(StoreError) {
            try locks.withLock(user: user) { () throws(StoreError) in
                if bound != UInt64.max, let stored = try storedManifestVersion(target), stored > bound {
                    throw .stale("stored manifest version \(stored) is newer than \(bound)")
                }
                let removedFileID = storedFileID(target)
                guard try FileIO.removeFile(target, what: "manifest") else { throw .notFound("manifest") }
                objects.listings.changed(try objects.directory(user, .manifests))
                references.replaced(user: user, old: removedFileID, new: nil)
            }
        } catch {
            outcome = error
        }
        try objects.flusher.flush(try objects.directory(user, .manifests))
        if let outcome { throw outcome }
    }

    /// Stores a keyslot if it supersedes the stored one (higher revision, no older epoch), is byte-identical, or is
    /// one of the user's keyslot history entries (a restore).
    /// An accepted keyslot also enters the user's keyslot history (`keyslotHistory(user:)`) before it is renamed
    /// into place; a refused one never does.
    public func putKeyslot(user: String, bytes: [UInt8]) throws(StoreError) {
        let header: KeyslotHeader
        do {
            header = try KeyslotHeader.decode(prefixOf: bytes)
        } catch {
            throw .invalid("keyslot header does not decode: \(error)")
        }
        let target = try keyslotPath(user: user)
        try replaceSmallFile(user: user, what: "keyslot", directory: try objects.userDirectory(user),
                             finalName: Self.keyslotName, bytes: bytes) { () throws(StoreError) -> Bool in
            let stored: [UInt8]
            do throws(StoreError) {
                stored = try ObjectReader(path: target, what: "keyslot").readAll()
            } catch .notFound {
                try recordKeyslotHistory(user: user, accepted: bytes, replacing: nil)
                return true
            } catch .checksumMismatch {
                try recordKeyslotHistory(user: user, accepted: bytes, replacing: nil)
                return true
            }
            guard let storedHeader = try? KeyslotHeader.decode(prefixOf: stored) else {
                try recordKeyslotHistory(user: user, accepted: bytes, replacing: nil)
                return true
            }
            if header.supersedes(storedHeader) {
                try recordKeyslotHistory(user: user, accepted: bytes, replacing: stored)
                return true
            }
            if stored == bytes { return false }  // a harmless retry: nothing to write
            // A keyslot this node accepted before (byte for byte, from its history) may come back whatever the
            // stored revision: `edfs key restore` can then undo a forged keyslot even at revision 2^64−1, which no
            // newer revision could supersede. It puts back only what the node once took from the user's session.
            if try historyContains(user: user, bytes) {
                try recordKeyslotHistory(user: user, accepted: bytes, replacing: stored)
                return true
            }
            throw .stale("keyslot epoch \(header.epoch) revision \(header.revision) does not supersede the stored "
                + "epoch \(storedHeader.epoch) revision \(storedHeader.revision)")
        }
    }

    /// Stores the user's login verifier; it overrides the config's `Password:` line for that user from the next login
    /// on (`edfs passwd`). On disk (`users/<user>/verifier`): the 16 bytes of an MD5 digest, or the SCRAM verifier's
    /// stored form `SCRAM-SHA-256$…` as text (docs/STORAGE.md).
    public func putVerifier(user: String, verifier: LoginVerifier) throws(StoreError) {
        let bytes: [UInt8]
        switch verifier {
        case let .md5(digest):
            guard digest.count == 16 else { throw .invalid("a legacy verifier is 16 bytes") }
            bytes = digest
        case let .scram(scram):
            bytes = Array(scram.encoded.utf8)
        }
        try replaceSmallFile(user: user, what: "verifier", directory: try objects.userDirectory(user),
                             finalName: Self.verifierName, bytes: bytes) { () throws(StoreError) -> Bool in true }
    }

    /// Stores a legacy MD5 verifier (16 bytes).
    public func putVerifier(user: String, digest: [UInt8]) throws(StoreError) {
        try putVerifier(user: user, verifier: .md5(digest))
    }

    /// What the node knows of a user's stored login verifier.
    public enum StoredVerifier: Sendable, Equatable {
        /// None stored: the config's `Password:` line applies.
        case none
        case verifier(LoginVerifier)
        /// Stored but unreadable (checksum mismatch, wrong size): logins fail until an operator removes the file.
        case damaged
    }

    /// The user's stored login verifier. Removing `users/<user>/verifier` resets the user to the config's line.
    public func verifier(user: String) -> StoredVerifier {
        guard let path = try? objects.userDirectory(user) + "/" + Self.verifierName else { return .none }
        do throws(StoreError) {
            let bytes = try ObjectReader(path: path, what: "verifier").readAll()
            if bytes.count == 16 { return .verifier(.md5(bytes)) }
            guard bytes.count <= 256, let scram = try? SCRAMVerifier.parse(String(decoding: bytes, as: UTF8.self)) else {
                return .damaged
            }
            return .verifier(.scram(scram))
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
}
