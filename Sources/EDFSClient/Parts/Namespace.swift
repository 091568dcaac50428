import EDFSFormat

/// The user's stored names seen as a tree: files, folder entries, and the folders implied by the names below them.
/// Built from one listing (`ListOperation`); what it says is as of that listing.
public struct Namespace: Sendable {
    /// What a path names.
    public enum Kind: Sendable, Equatable {
        case file(FileListing)
        /// A folder: `entry` is its folder entry, nil when only the names below it make it exist.
        case folder(entry: FileListing?)

        public var isFolder: Bool { if case .folder = self { true } else { false } }
    }

    /// One name directly inside a folder.
    public struct Child: Sendable, Equatable {
        /// The last component.
        public var name: String
        /// The full stored path.
        public var path: String
        public var kind: Kind
        public var isFolder: Bool { kind.isFolder }

        public init(name: String, path: String, kind: Kind) {
            self.name = name
            self.path = path
            self.kind = kind
        }
    }

    /// Live files and folder entries by stored path (byte-wise keys: see `StoredPath.isInside`).
    private let entries: [[UInt8]: FileListing]
    /// Direct children of each folder ("" is the top): last component's bytes → full path.
    private let children: [[UInt8]: [[UInt8]: String]]

    public init(_ listings: [FileListing]) {
        var entries = [[UInt8]: FileListing]()
        var children = [[UInt8]: [[UInt8]: String]]()
        for listing in listings {
            entries[Array(listing.name.utf8)] = listing
            var path = listing.name
            while true {
                let parent = StoredPath.parent(of: path)
                children[Array(parent.utf8), default: [:]][Array(StoredPath.lastComponent(of: path).utf8)] = path
                if parent.isEmpty { break }
                path = parent
            }
        }
        self.entries = entries
        self.children = children
    }

    /// What `path` names ("" is the top folder), or nil when nothing is stored there.
    public func kind(of path: String) -> Kind? {
        if path.isEmpty { return .folder(entry: nil) }
        let key = Array(path.utf8)
        if let entry = entries[key] {
            return entry.isFolder ? .folder(entry: entry) : .file(entry)
        }
        return children[key] != nil ? .folder(entry: nil) : nil
    }

    /// The names directly inside `folder`, sorted by name; empty for a file or nothing.
    public func children(of folder: String) -> [Child] {
        guard let names = children[Array(folder.utf8)] else { return [] }
        return names.sorted { $0.key.lexicographicallyPrecedes($1.key) }.compactMap { name, path in
            kind(of: path).map { Child(name: String(decoding: name, as: UTF8.self), path: path, kind: $0) }
        }
    }

    /// Every file at any depth inside `folder` ("" for all), sorted by path.
    public func files(inside folder: String) -> [FileListing] {
        entries.values.filter { !$0.isFolder && StoredPath.isInside($0.name, folder: folder) }
            .map { (key: Array($0.name.utf8), file: $0) }  // each sort key made once, not per comparison
            .sorted { $0.key.lexicographicallyPrecedes($1.key) }.map(\.file)
    }

    /// Every folder entry at any depth inside `folder`, deepest first (the order to remove them in).
    public func folderEntries(inside folder: String) -> [FileListing] {
        entries.values.filter { $0.isFolder && StoredPath.isInside($0.name, folder: folder) }
            .sorted { $0.name.utf8.count > $1.name.utf8.count }
    }

    /// True when `folder` holds nothing (no file, no folder entry below it).
    public func isEmptyFolder(_ folder: String) -> Bool { children(of: folder).isEmpty }
}

/// `namespace`, or a fresh listing's when nil.
func namespaceOrListing(_ namespace: Namespace?, _ session: ClusterSession) async throws -> Namespace {
    if let namespace { return namespace }
    return Namespace(try await ListOperation(session).run())
}
