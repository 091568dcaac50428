import EDFSFormat

/// Keyless garbage collection of one user's objects (docs/STORAGE.md, "Garbage collection").
///
/// An object is an **orphan** when its name is `<file id>.<stripe index>` (`StripeHeader.objectName`), no manifest of
/// the same user on this node names that file id in its cleartext header (any version, readable or not), and every object of that file id was last written longer ago than the grace period
/// (so a put still uploading stripes, or finished but not yet committed, keeps all of them). Objects with other
/// names are never removed. If any of the user's manifests has a header that does not decode, or one is in quarantine
/// (it failed its checksum, so the file id it shows may be wrong), nothing of that user is removed.
///
/// The decision and the removals run under the user's lock (`UserLocks`), the lock every manifest write and delete
/// renames under, so a manifest committed meanwhile is either seen or comes after the removal; an object published
/// again under the same name meanwhile is told apart by its inode and kept (`FileIO.move(_:to:ifStill:what:)`).
/// Blocking: call from a thread pool.
struct OrphanCollector: Sendable {
    let store: ObjectStore
    let locks: UserLocks
    let quarantine: Quarantine

    /// What one user's collection did.
    struct Outcome {
        var removed: [String] = []
        var bytes: UInt64 = 0
        /// Why nothing was removed, when it was skipped.
        var skipped: String?
    }

    /// Removes `user`'s orphans last written before `cutoff` (seconds since 1970).
    func collect(user: String, cutoff: Double) throws(StoreError) -> Outcome {
        try locks.withLock(user: user) { () throws(StoreError) -> Outcome in
            var outcome = Outcome()
            let referenced: Set<String>
            switch try referencedFileIDs(user: user) {
            case let .success(ids): referenced = ids
            case let .failure(reason):
                outcome.skipped = reason.reason
                return outcome
            }
            let dir = try store.directory(user, .objects)
            // File id → its objects and the newest write among them.
            var groups: [String: (names: [(String, FileStatus)], newest: Double)] = [:]
            for name in try FileIO.listDirectory(dir) where WireName.isValidID(name) {
                guard let fileID = Self.fileID(ofObject: name), !referenced.contains(fileID),
                      let status = try FileIO.status(dir + "/" + name), status.isRegularFile else { continue }
                var group = groups[fileID] ?? ([], -Double.infinity)
                group.names.append((name, status))
                group.newest = max(group.newest, status.modified)
                groups[fileID] = group
            }
            for (_, group) in groups.sorted(by: { $0.key < $1.key }) where group.newest < cutoff {
                for (name, status) in group.names.sorted(by: { $0.0 < $1.0 }) {
                    let trash = dir + "/" + ObjectStore.temporaryPrefix + ObjectStore.randomSuffix()
                    guard try FileIO.move(dir + "/" + name, to: trash, ifStill: status, what: "orphan object") else {
                        continue
                    }
                    store.listings.changed(dir)
                    try FileIO.removeFile(trash, what: "orphan object")
                    outcome.removed.append("users/" + user + "/objects/" + name)
                    outcome.bytes += status.size
                }
            }
            if !outcome.removed.isEmpty { try FileIO.fsyncDirectory(dir) }
            return outcome
        }
    }

    /// Why a user's referenced file ids cannot be known.
    private struct Unknown: Error {
        let reason: String
    }

    /// The file ids the user's manifests name, or why they cannot all be known.
    private func referencedFileIDs(user: String) throws(StoreError) -> Result<Set<String>, Unknown> {
        // A quarantined manifest failed its checksum: the file id its header shows may be the damaged part (one
        // flipped bit there made collection take a live file's good replicas for orphans). While one is there, the
        // user's objects are not collected; `edfs repair` puts a good copy back, then the operator removes it.
        let quarantined = quarantine.manifestsFolder(user: user)
        if let damaged = try FileIO.listDirectory(quarantined).first(where: { !$0.hasPrefix(".") }) {
            return .failure(Unknown(reason: "a damaged manifest is in quarantine (\(Quarantine.folderName)/\(user)/manifests/"
                                    + "\(damaged)): run edfs repair, then remove it to let collection resume"))
        }
        var ids = Set<String>()
        let folders = [(try store.directory(user, .manifests), "users/" + user + "/manifests/")]
        for (folder, shown) in folders {
            for name in try FileIO.listDirectory(folder) where !name.hasPrefix(".") {
                let prefix: [UInt8]
                do throws(StoreError) {
                    prefix = try FileIO.readPrefix(folder + "/" + name, count: ManifestHeader.byteCount, what: "manifest")
                } catch .notFound {
                    continue  // removed meanwhile (not by a writer: they hold the lock we hold)
                }
                guard let header = try? ManifestHeader.decode(prefixOf: prefix) else {
                    return .failure(Unknown(reason: "the header of \(shown)\(name) does not decode"))
                }
                ids.insert(header.fileID.hex)
            }
        }
        return .success(ids)
    }

    /// The file id (32 lowercase hex digits) of an object named `<file id>.<stripe index>`, else nil.
    static func fileID(ofObject name: String) -> String? {
        let parts = name.split(separator: ".", omittingEmptySubsequences: false)
        guard parts.count == 2, let id = try? FileID(hex: String(parts[0])), id.hex == parts[0],
              (1...10).contains(parts[1].utf8.count), parts[1].utf8.allSatisfy({ $0 >= 0x30 && $0 <= 0x39 }),
              UInt32(parts[1]) != nil else { return nil }
        return id.hex
    }
}
