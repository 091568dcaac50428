import EDFSFormat

/// `edfs mkdir` and removing an empty folder: folder entries, manifests flagged as folders that make a folder exist
/// while it holds no file (docs/FORMAT.md §3). Folders above a stored name get entries too, so every folder made by
/// this version of edfs has one and a point lookup tells a folder from a file.
public struct FolderOperation: Sendable {
    public let session: ClusterSession

    public init(_ session: ClusterSession) { self.session = session }

    /// Makes `path` and the folders above it; returns false when `path` already was a folder. A file at `path` or
    /// above it refuses (`ClientError.conflict`).
    @discardableResult
    public func make(_ path: String, mode: UInt32 = 0o755) async throws -> Bool {
        if let problem = StoredPath.problem(with: path) { throw ClientError.usage("\(problem): \"\(path)\"") }
        try await ensureFolders(above: path)
        return try await ensureFolder(path, mode: mode)
    }

    /// Removes the folder `path`, which must hold nothing (`ClientError.conflict` otherwise): its entry gets a
    /// tombstone. `namespace` is a listing taken for this (one is taken when nil).
    public func remove(_ path: String, namespace: Namespace? = nil) async throws {
        let names = try await namespaceOrListing(namespace, session)
        switch names.kind(of: path) {
        case nil: throw ClientError.noSuchFile("no folder named \"\(path)\" is stored (see edfs ls)")
        case .file?: throw ClientError.conflict("\(path) is a file, not a folder")
        case .folder?:
            guard names.isEmptyFolder(path) else { throw ClientError.conflict("the folder \(path) is not empty: remove what it holds first, or use edfs rm -r") }
        }
        try await removeEntry(path)
    }

    /// Removes the folder `path` with every file and folder inside it (`edfs rm -r`), as `namespace` lists them;
    /// `onFile` hears of each file removed. Returns the number of files removed.
    @discardableResult
    public func removeTree(_ path: String, namespace: Namespace,
                           onFile: (String) -> Void = { _ in }) async throws -> Int {
        guard case .folder? = namespace.kind(of: path) else {
            throw ClientError.noSuchFile("no folder named \"\(path)\" is stored (see edfs ls)")
        }
        let files = namespace.files(inside: path)
        for file in files {
            try await RemoveOperation(session).run(name: file.name)
            onFile(file.name)
        }
        for folder in namespace.folderEntries(inside: path) { try await removeEntry(folder.name) }
        if !path.isEmpty { try await removeEntry(path) }
        return files.count
    }

    /// Tombstones the folder entry of `path`, if it has one.
    func removeEntry(_ path: String) async throws {
        let reader = ManifestReader(session)
        let lookup = try await reader.lookUp(path: path)
        try reader.requireReadQuorum(lookup, path: path)
        session.knownFolders.forget(path)
        guard let entry = lookup.live, entry.body.isFolder else { return }
        let commit = MetadataCommit(session: session)
        try await commit.commit(try commit.tombstone(for: entry), fileID: .random(), after: lookup)
    }

    /// Gives every folder above `path` an entry where it has none; a file in the way refuses.
    func ensureFolders(above path: String) async throws {
        for folder in StoredPath.ancestors(of: path) { try await ensureFolder(folder, mode: 0o755) }
    }

    /// Makes `folder` exist as a folder entry unless it is a folder already; false when it was.
    ///
    /// No read quorum is needed: an entry written while the nodes holding a newer version of the name are down loses
    /// to that version when they answer again (a folder entry never hides a file). Another client making the same
    /// folder at the same time is success (`MetadataCommit.commitFolderEntry`).
    private func ensureFolder(_ folder: String, mode: UInt32) async throws -> Bool {
        if session.knownFolders.contains(folder) { return false }
        // Concurrent puts into one new folder: the first makes it, the others await that (and then find it known).
        return try await session.knownFolders.creations.once(folder) { [self] in
            try await makeFolderEntry(folder, mode: mode)
        }
    }

    private func makeFolderEntry(_ folder: String, mode: UInt32) async throws -> Bool {
        if session.knownFolders.contains(folder) { return false }
        let reader = ManifestReader(session)
        func isFolder(_ lookup: ManifestLookup) throws -> Bool {
            guard let live = lookup.live else { return false }
            guard live.body.isFolder else { throw ClientError.conflict("\(folder) is a file; it cannot also be a folder") }
            session.knownFolders.insert(folder)
            return true
        }
        let lookup = try await reader.lookUp(path: folder)
        if try isFolder(lookup) { return false }
        let commit = MetadataCommit(session: session)
        try await commit.commitFolderEntry(try commit.folderEntry(folder, mode: mode), after: lookup)
        session.knownFolders.insert(folder)
        return true
    }
}
