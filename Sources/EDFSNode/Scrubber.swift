#if canImport(Glibc)
import Glibc
#elseif canImport(Darwin)
import Darwin
#endif
import EDFSFormat

/// Reads every stored file of every user (objects, manifests, keyslot, keyslot history) and checks every block
/// against its checksum; with `ScrubOptions` it also moves corrupt files into quarantine and collects orphans and
/// stale temporary files (docs/STORAGE.md, "Scrubbing, quarantine and garbage collection"). Safe beside a running
/// node's requests when made by the node (`StorageNode.scrubber`), which shares its per-user locks. Streams every file
/// one block at a time. Blocking: call from a thread pool.
public struct Scrubber: Sendable {
    /// The store whose files are checked.
    public let store: ObjectStore
    let locks: UserLocks

    /// The report of a scrub (the name earlier callers use).
    public typealias Report = ScrubReport

    /// The running node's manifest references, dropped after a scrub (it may move manifests into quarantine).
    private let references: ManifestReferences?

    /// A scrubber of `store`'s files with locks of its own: for a data folder no node is serving.
    public init(store: ObjectStore) {
        self.store = store
        locks = UserLocks()
        references = nil
    }

    /// A scrubber that shares `metadata`'s per-user locks (a running node's).
    init(metadata: MetadataStore) {
        store = metadata.objects
        locks = metadata.locks
        references = metadata.references
    }

    /// Reads every stored file of every user and checks every block; changes nothing.
    public func scrub() throws(StoreError) -> ScrubReport { try scrub(ScrubOptions()) }

    /// Checks every stored file, then does what `options` asks. `shouldStop` is asked between files; when it says
    /// yes the scrub returns what it has done so far, marked `interrupted`.
    public func scrub(_ options: ScrubOptions, shouldStop: @Sendable () -> Bool = { false }) throws(StoreError) -> ScrubReport {
        defer { references?.forgetAll() }
        let began = ContinuousClock.now
        var report = ScrubReport()
        report.startedAt = Self.wallClock()
        try scrubUsers(options, shouldStop: shouldStop, into: &report)
        report.durationSeconds = Self.seconds(ContinuousClock.now - began)
        return report
    }

    private func scrubUsers(_ options: ScrubOptions, shouldStop: @Sendable () -> Bool,
                            into report: inout ScrubReport) throws(StoreError) {
        let quarantine = Quarantine(root: store.root)
        for user in try FileIO.listDirectory(store.root + "/users").sorted() where NameRules.isValidUserName(user) {
            for (inside, what) in try storedFiles(user: user) {
                if shouldStop() {
                    report.interrupted = true
                    return
                }
                try check(user: user, inside: inside, what: what, quarantine: options.quarantine ? quarantine : nil,
                          into: &report)
            }
            if let grace = options.orphanGracePeriod {
                let outcome = try OrphanCollector(store: store, locks: locks, quarantine: quarantine)
                    .collect(user: user, cutoff: Self.wallClock() - Self.seconds(grace))
                report.orphansReclaimed += outcome.removed
                report.orphanBytes += outcome.bytes
                if let reason = outcome.skipped { report.collectionSkipped.append("users/\(user): \(reason)") }
            }
            if let grace = options.temporaryGracePeriod {
                try removeTemporaries(user: user, cutoff: Self.wallClock() - Self.seconds(grace), into: &report)
            }
        }
    }

    /// The user's stored files, as paths inside the user's folder, with what each is.
    private func storedFiles(user: String) throws(StoreError) -> [(inside: String, what: String)] {
        let userDir = store.root + "/users/" + user
        var files: [(String, String)] = []
        for namespace in [StoreNamespace.objects, .manifests] {
            for name in try FileIO.listDirectory(userDir + "/" + namespace.rawValue).sorted() where WireName.isValidID(name) {
                files.append((namespace.rawValue + "/" + name, namespace.what))
            }
        }
        if try FileIO.listDirectory(userDir).contains(MetadataStore.keyslotName) {
            files.append((MetadataStore.keyslotName, "keyslot"))
        }
        for name in try FileIO.listDirectory(userDir + "/" + MetadataStore.historyName).sorted()
        where name.utf8.count == 20 && name.utf8.allSatisfy({ $0 >= 0x30 && $0 <= 0x39 }) {
            files.append((MetadataStore.historyName + "/" + name, "keyslot history entry"))
        }
        return files
    }

    /// Checks one file; a corrupt one is reported and, with a quarantine, moved there (only if it is still the file
    /// that failed: a copy a writer published meanwhile stays).
    private func check(user: String, inside: String, what: String, quarantine: Quarantine?,
                       into report: inout ScrubReport) throws(StoreError) {
        let relative = "users/" + user + "/" + inside
        let fd: Int32
        do throws(StoreError) {
            fd = try FileIO.openFile(store.root + "/" + relative, O_RDONLY, what: what)
        } catch .notFound {
            return  // removed while scrubbing
        }
        let status: FileStatus
        do throws(StoreError) {
            status = try FileIO.status(fd, what: what)
        } catch {
            close(fd)
            throw error
        }
        guard status.isRegularFile else {
            close(fd)
            return
        }
        report.filesChecked += 1
        do throws(StoreError) {
            let reader = try ObjectReader(descriptor: fd, what: what)
            try reader.verifyAll()
            report.bytesChecked += reader.length
            return
        } catch .checksumMismatch {
            report.corrupt.append(relative)
        }
        guard let quarantine else { return }
        let moved = try quarantine.move(user: user, inside: inside, expected: status, now: Self.wallClock())
        // The file left its folder (or was put back): listings of that folder read it afresh.
        store.listings.changed(store.root + "/users/" + user + "/"
            + (inside.split(separator: "/").dropLast().joined(separator: "/")))
        if let moved { report.quarantined.append(moved) }
    }

    /// Removes the user's temporary files last written before `cutoff`.
    private func removeTemporaries(user: String, cutoff: Double, into report: inout ScrubReport) throws(StoreError) {
        let userDir = store.root + "/users/" + user
        for dir in [userDir, userDir + "/objects", userDir + "/manifests", userDir + "/" + MetadataStore.historyName] {
            var changed = false
            for name in try FileIO.listDirectory(dir) where name.hasPrefix(ObjectStore.temporaryPrefix) {
                guard let status = try FileIO.status(dir + "/" + name), status.isRegularFile, status.modified < cutoff,
                      try FileIO.removeFile(dir + "/" + name, what: "temporary file") else { continue }
                report.temporariesReclaimed += 1
                report.temporaryBytes += status.size
                changed = true
            }
            if changed { try FileIO.fsyncDirectory(dir) }
        }
    }

    /// Seconds since 1970 (UTC), as file times are.
    static func wallClock() -> Double {
        var now = timespec()
        clock_gettime(CLOCK_REALTIME, &now)
        return Double(now.tv_sec) + Double(now.tv_nsec) / 1e9
    }

    static func seconds(_ duration: Duration) -> Double {
        Double(duration.components.seconds) + Double(duration.components.attoseconds) / 1e18
    }
}
