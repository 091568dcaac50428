import EDFSCrypto

/// The sorted names of recently listed folders (docs/STORAGE.md, "Listing"), so that the pages after the first of
/// one listing do not each read and sort the whole folder again (a LIST of 1,000 names out of 20,000 otherwise reads
/// all 20,000: every page O(folder), a whole listing O(folder²/page)).
///
/// Coherence: every change the node makes to a listed folder's names (a rename into place, an unlink, a quarantine
/// move, an orphan removal) calls `changed(_:)`, which drops that folder's entry and makes any listing read under
/// way when it happened not be kept. A listing's first page (no `startAfter`) always reads the folder afresh; later
/// pages use the entry only while it is younger than `maxAge`, which bounds how long a change made behind the node's
/// back (by hand) can go unseen. Lengths are not cached: each page reads its entries' footers.
///
/// Memory: at most `maxBytes` of names (counted as name bytes + 32 per entry) node-wide; a folder larger than that is
/// never cached, and an insert that would go over drops the other entries first.
final class ListingCache: Sendable {
    static let maxBytes = 8 << 20
    static let maxAge: Duration = .seconds(5)

    private struct Entry {
        let names: [String]
        let bytes: Int
        let built: ContinuousClock.Instant
    }

    private struct State {
        var entries: [String: Entry] = [:]
        var bytes = 0
        /// Bumped by every change, so that a read that overlapped one is not kept.
        var changes: UInt64 = 0
        /// Folder reads so far (a test hook).
        var loads = 0
    }

    private let state = PthreadMutex(State())

    /// Folder reads so far (for tests).
    var loads: Int { state.withLock { $0.loads } }

    /// Bytes of names held now (for tests).
    var heldBytes: Int { state.withLock { $0.bytes } }

    /// `folder`'s names changed (or may have): forget them.
    func changed(_ folder: String) {
        state.withLock { s in
            s.changes &+= 1
            if let old = s.entries.removeValue(forKey: folder) { s.bytes -= old.bytes }
        }
    }

    /// Forgets every folder.
    func forgetAll() {
        state.withLock { s in
            s.changes &+= 1
            s.entries.removeAll()
            s.bytes = 0
        }
    }

    /// The sorted valid names of `folder`: cached ones when `fresh` is false and the entry is young enough, else
    /// `load()`'s (then kept if no change happened meanwhile and they fit).
    func names(_ folder: String, fresh: Bool,
               load: () throws(StoreError) -> [String]) throws(StoreError) -> [String] {
        let now = ContinuousClock.now
        let (cached, before) = state.withLock { s -> ([String]?, UInt64) in
            if fresh, let old = s.entries.removeValue(forKey: folder) { s.bytes -= old.bytes }
            guard !fresh, let entry = s.entries[folder], now - entry.built < Self.maxAge else { return (nil, s.changes) }
            return (entry.names, s.changes)
        }
        if let cached { return cached }
        let names = try load()
        let bytes = names.reduce(0) { $0 + $1.utf8.count + 32 }
        state.withLock { s in
            s.loads += 1
            guard s.changes == before, bytes <= Self.maxBytes else { return }
            if let old = s.entries.removeValue(forKey: folder) { s.bytes -= old.bytes }
            if s.bytes + bytes > Self.maxBytes {
                s.entries.removeAll()
                s.bytes = 0
            }
            s.entries[folder] = Entry(names: names, bytes: bytes, built: now)
            s.bytes += bytes
        }
        return names
    }
}
