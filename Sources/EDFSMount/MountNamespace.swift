import EDFSCrypto

/// The mount's picture of the stored names: a listing snapshot, this mount's own changes applied to it at once, and
/// folders derived from it — a folder is any prefix of a stored name, a stored folder entry, or a folder made in
/// this mount that holds nothing yet (kept only in memory until a file is stored in it).
final class MountNamespace: Sendable {
    enum Node: Equatable {
        case file(MountEntry)
        case folder(MountEntry?)
    }

    private struct State {
        var entries: [ByteName: MountEntry] = [:]
        var localFolders: Set<ByteName> = []
        /// Bumped by every own change.
        var generation: UInt64 = 0
        /// Own changes since the last refresh, by generation: re-applied over a listing that may predate them.
        var journal: [(generation: UInt64, name: String, entry: MountEntry?)] = []
        var refreshedAt: Double?
        var index: Index?
    }

    /// Folder → children (leaf name → node), rebuilt after a change when first needed.
    private struct Index {
        var folders: [ByteName: MountEntry?] = [ByteName(""): nil]
        var children: [ByteName: [ByteName: Node]] = [:]
    }

    private let state = PthreadMutex(State())

    /// Seconds a snapshot is trusted before the next lookup lists the store again.
    let refreshInterval: Double

    init(refreshInterval: Double) { self.refreshInterval = refreshInterval }

    /// True when no snapshot was taken yet or the last is older than the interval.
    func isStale(now: Double) -> Bool {
        state.withLock { state in state.refreshedAt.map { now - $0 >= refreshInterval } ?? true }
    }

    var generation: UInt64 { state.withLock { $0.generation } }

    /// A listing failed: the next try waits one interval (the old snapshot stays).
    func listingFailed(now: Double) { state.withLock { $0.refreshedAt = now } }

    /// Makes the next lookup list the store again.
    func expire() { state.withLock { $0.refreshedAt = nil } }

    /// Replaces the snapshot with a listing whose request started at `generation`; own changes made since then are
    /// applied again on top (the listing may or may not show them already). One refresh at a time.
    func replace(with listing: [MountEntry], takenAt generation: UInt64, now: Double) {
        state.withLock { state in
            state.entries = Dictionary(listing.map { (ByteName($0.name), $0) }, uniquingKeysWith: { first, _ in first })
            for change in state.journal where change.generation > generation {
                state.entries[ByteName(change.name)] = change.entry
            }
            state.journal.removeAll()
            state.refreshedAt = now
            state.index = nil
        }
    }

    func lookUp(_ name: String) -> Node? {
        state.withLock { state in
            if name.isEmpty { return .folder(nil) }
            if let entry = state.entries[ByteName(name)], !entry.isFolder { return .file(entry) }
            let index = Self.index(&state)
            if let folder = index.folders[ByteName(name)] { return .folder(folder) }
            return nil
        }
    }

    /// The children of folder `name` (leaf name → node), or nil if it is not a folder.
    func children(of name: String) -> [ByteName: Node]? {
        state.withLock { state in
            let index = Self.index(&state)
            guard index.folders[ByteName(name)] != nil else { return nil }
            return index.children[ByteName(name)] ?? [:]
        }
    }

    /// Stored files (for statfs).
    var fileCount: Int { state.withLock { $0.entries.values.filter { !$0.isFolder }.count } }

    /// Applies an own change: `entry` stored (nil: `name` removed).
    func set(_ name: String, _ entry: MountEntry?) {
        state.withLock { state in
            state.entries[ByteName(name)] = entry
            state.generation += 1
            state.journal.append((state.generation, name, entry))
            state.index = nil
        }
    }

    /// Applies an own rename: `from` (a file, or a folder with everything below it) is now `to`.
    func move(_ from: String, to: String) {
        state.withLock { state in
            let prefix = Array((from + "/").utf8)
            func inside(_ name: String) -> Bool { name.utf8.elementsEqual(from.utf8) || name.utf8.starts(with: prefix) }
            func renamed(_ name: String) -> String { to + String(decoding: name.utf8.dropFirst(from.utf8.count), as: UTF8.self) }
            for (key, entry) in state.entries where inside(key.text) {
                let newName = renamed(key.text)
                var moved = entry
                moved.name = newName
                state.entries[key] = nil
                state.entries[ByteName(newName)] = moved
                state.generation += 1
                state.journal.append((state.generation, key.text, nil))
                state.journal.append((state.generation, newName, moved))
            }
            for folder in state.localFolders where inside(folder.text) {
                state.localFolders.remove(folder)
                state.localFolders.insert(ByteName(renamed(folder.text)))
            }
            state.generation += 1
            state.index = nil
        }
    }

    /// A folder made here that nothing stored holds yet.
    func addLocalFolder(_ name: String) {
        state.withLock { state in
            state.localFolders.insert(ByteName(name))
            state.generation += 1
            state.index = nil
        }
    }

    /// Forgets a local folder; false if `name` was not one.
    func removeLocalFolder(_ name: String) -> Bool {
        state.withLock { state in
            guard state.localFolders.remove(ByteName(name)) != nil else { return false }
            state.generation += 1
            state.index = nil
            return true
        }
    }

    func isLocalFolder(_ name: String) -> Bool { state.withLock { $0.localFolders.contains(ByteName(name)) } }

    private static func index(_ state: inout State) -> Index {
        if let index = state.index { return index }
        var index = Index()
        func addFolder(_ folder: String, entry: MountEntry?) {
            var path = folder
            var entry = entry
            while !path.isEmpty {
                if let existing = index.folders[ByteName(path)], entry == nil || existing != nil { break }  // already known
                index.folders[ByteName(path)] = .some(entry)
                let parent = MountPath.parent(of: path)
                index.children[ByteName(parent), default: [:]][ByteName(MountPath.leaf(of: path))] = .folder(entry)
                path = parent
                entry = nil
            }
        }
        for entry in state.entries.values {
            if entry.isFolder {
                addFolder(entry.name, entry: entry)
            } else {
                addFolder(MountPath.parent(of: entry.name), entry: nil)
                index.children[ByteName(MountPath.parent(of: entry.name)), default: [:]][ByteName(MountPath.leaf(of: entry.name))] = .file(entry)
            }
        }
        for folder in state.localFolders { addFolder(folder.text, entry: nil) }
        state.index = index
        return index
    }
}
