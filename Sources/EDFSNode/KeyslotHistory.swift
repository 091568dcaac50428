import EDFSFormat

/// The keyslot history of a user (docs/STORAGE.md): the last `historyDepth` distinct keyslots the node accepted,
/// each a stored file of its own in `users/<user>/keyslots/` (same format and durability as the keyslot: temporary
/// file, fsync, rename, folder fsync, checksum footer), named by a 20-digit acceptance counter. A destructive
/// keyslot write (a forged higher revision, another user's keyslot) thus never loses the honest keyslot: a client
/// reads the history (GET_KEYSLOT_HISTORY) and writes the honest one back at a higher revision.
extension MetadataStore {
    /// The folder of the history under a user's folder.
    static let historyName = "keyslots"
    /// How many distinct keyslots the history keeps.
    public static let historyDepth = 8

    /// Records `accepted` as the newest history entry (called under the user's lock, before the keyslot itself is
    /// renamed into place). `replacing`, the stored keyslot it supersedes, is recorded first when the history is
    /// empty (a keyslot stored before the node kept a history). An entry byte-identical to the newest is not repeated;
    /// entries beyond `historyDepth` are removed, oldest first.
    func recordKeyslotHistory(user: String, accepted: [UInt8], replacing: [UInt8]?) throws(StoreError) {
        let dir = try objects.userDirectory(user) + "/" + Self.historyName
        if try FileIO.makeDirectory(dir) { try FileIO.fsyncDirectory(try objects.userDirectory(user)) }
        var entries = try historyEntries(dir)
        var next = (entries.last?.number ?? 0) + 1
        var newest = entries.last.flatMap { try? readHistoryEntry(dir, $0.name) }
        for bytes in [entries.isEmpty ? replacing : nil, accepted].compactMap({ $0 }) where bytes != newest {
            let name = Self.historyEntryName(next)
            let writer = try ObjectWriter(what: "keyslot history entry", directory: dir, finalName: name,
                                          announcedLength: UInt64(bytes.count), blockSize: objects.blockSize,
                                          flusher: objects.flusher, listings: objects.listings)
            try writer.append(bytes)
            try writer.commit()
            entries.append((next, name))
            next += 1
            newest = bytes
        }
        var removed = false
        while entries.count > Self.historyDepth {
            if try FileIO.removeFile(dir + "/" + entries.removeFirst().name, what: "keyslot history entry") {
                removed = true
            }
        }
        if removed { try FileIO.fsyncDirectory(dir) }
    }

    /// The user's keyslot history, newest first: at most `historyDepth` entries, each verified against its checksums
    /// (an entry that fails is left out), and at most `maxTotalBytes` in all (older entries that do not fit are left out).
    public func keyslotHistory(user: String, maxTotalBytes: Int = Int.max) throws(StoreError) -> [[UInt8]] {
        let dir = try objects.userDirectory(user) + "/" + Self.historyName
        let entries = try locks.withLock(user: user) { () throws(StoreError) in try historyEntries(dir) }
        var result: [[UInt8]] = []
        var total = 0
        for entry in entries.reversed().prefix(Self.historyDepth) {
            guard let bytes = try? readHistoryEntry(dir, entry.name) else { continue }
            guard total + bytes.count <= maxTotalBytes else { break }
            total += bytes.count
            result.append(bytes)
        }
        return result
    }

    /// Whether `bytes` is one of the user's keyslot history entries. The caller holds the user's lock.
    func historyContains(user: String, _ bytes: [UInt8]) throws(StoreError) -> Bool {
        let dir = try objects.userDirectory(user) + "/" + Self.historyName
        for entry in try historyEntries(dir).reversed().prefix(Self.historyDepth) {
            if let stored = try? readHistoryEntry(dir, entry.name), stored == bytes { return true }
        }
        return false
    }

    /// The entries in `dir`, oldest first (names that are not entry names are ignored).
    private func historyEntries(_ dir: String) throws(StoreError) -> [(number: UInt64, name: String)] {
        try FileIO.listDirectory(dir).compactMap { name -> (number: UInt64, name: String)? in
            guard name.utf8.count == 20, name.utf8.allSatisfy({ $0 >= 0x30 && $0 <= 0x39 }),
                  let number = UInt64(name) else { return nil }
            return (number, name)
        }.sorted { $0.number < $1.number }
    }

    private func readHistoryEntry(_ dir: String, _ name: String) throws(StoreError) -> [UInt8] {
        try ObjectReader(path: dir + "/" + name, what: "keyslot history entry").readAll()
    }

    /// Entry `number` as a 20-digit decimal name (so names sort as numbers do).
    static func historyEntryName(_ number: UInt64) -> String {
        let digits = String(number)
        return String(repeating: "0", count: max(0, 20 - digits.count)) + digits
    }
}
