import EDFSFormat

/// `edfs mv`: renames a file or a folder, metadata only — new manifests naming the same objects, no data rewritten.
///
/// One file moves in three commits, each safe to be the last one done: (1) the old name's manifest is marked as
/// sharing its objects, (2) the new name's manifest, also marked, names the same file id, (3) the old name gets a
/// tombstone. Interrupted after (2), both names read the same bytes; because both are marked, removing either never
/// deletes the objects — the nodes' orphan collection reclaims them once no manifest names them.
public struct MoveOperation: Sendable {
    public let session: ClusterSession
    /// Hears of each commit of a file's move: (stored name, step 1…3). For progress, and for tests that interrupt a
    /// move between two steps.
    let onStep: @Sendable (String, Int) -> Void

    public init(_ session: ClusterSession, onStep: @escaping @Sendable (String, Int) -> Void = { _, _ in }) {
        self.session = session
        self.onStep = onStep
    }

    /// Moves `source` (a file or a folder with everything in it) to exactly `target`. A file may replace an existing
    /// file when `replace` is set; any other existing `target` refuses (`ClientError.conflict`). Returns the number
    /// of files moved. `namespace` is a listing taken for this (one is taken when nil).
    @discardableResult
    public func run(from source: String, to target: String, replace: Bool = false,
                    namespace: Namespace? = nil) async throws -> Int {
        if let problem = StoredPath.problem(with: target) { throw ClientError.usage("\(problem): \"\(target)\"") }
        guard Array(source.utf8) != Array(target.utf8) else { return 0 }
        let names = try await namespaceOrListing(namespace, session)
        guard let kind = names.kind(of: source) else {
            throw ClientError.noSuchFile("no file or folder named \"\(source)\" is stored (see edfs ls)")
        }
        switch (kind, names.kind(of: target)) {
        case (.file, nil), (.folder, nil): break
        case (.file, .file?) where replace: break
        case (.folder, .folder?) where replace && names.isEmptyFolder(target): break
        case (_, .folder?): throw ClientError.conflict("\(target) exists and is a folder")
        case (_, .file?): throw ClientError.conflict("\(target) exists; remove it first")
        }
        let folders = FolderOperation(session)
        try await folders.ensureFolders(above: target)
        guard case let .folder(entry) = kind else {
            try await moveFile(source, to: target)
            return 1
        }
        guard !StoredPath.isInside(target, folder: source) else {
            throw ClientError.usage("cannot move the folder \(source) into itself (\(target))")
        }
        // Folders first (the new tree exists before files arrive), then the files, then the old folders' entries.
        let entries = names.folderEntries(inside: source).reversed() + (entry.map { [$0] } ?? [])
        _ = try await folders.make(target, mode: entry?.mode ?? 0o755)
        for folder in entries where folder.name != source {
            _ = try await folders.make(Self.renamed(folder.name, from: source, to: target), mode: folder.mode)
        }
        let files = names.files(inside: source)
        for file in files { try await moveFile(file.name, to: Self.renamed(file.name, from: source, to: target)) }
        for folder in names.folderEntries(inside: source) { try await folders.removeEntry(folder.name) }
        try await folders.removeEntry(source)
        return files.count
    }

    /// `path` (inside `source`) as it is named under `target`.
    static func renamed(_ path: String, from source: String, to target: String) -> String {
        target + String(decoding: path.utf8.dropFirst(source.utf8.count), as: UTF8.self)
    }

    /// Moves one file: the three commits of the type's description.
    private func moveFile(_ source: String, to target: String) async throws {
        let reader = ManifestReader(session)
        let commit = MetadataCommit(session: session)
        var (record, lookup) = try await reader.liveManifest(path: source)
        guard !record.body.isFolder else { throw ClientError.conflict("\(source) is a folder") }
        if !record.body.sharesObjects {
            var marked = record.body
            marked.sharesObjects = true
            record = try await commit.commit(marked, fileID: record.header.fileID, after: lookup)
        }
        onStep(source, 1)
        let existing = try await reader.lookUp(path: target)
        try reader.requireReadQuorum(existing, path: target)
        if existing.live?.body.isFolder == true { throw ClientError.conflict("\(target) exists and is a folder") }
        var moved = record.body
        moved.name = target
        try await commit.commit(moved, fileID: record.header.fileID, after: existing)
        onStep(source, 2)
        // The replaced file's versions, if any: their objects are nobody's now.
        await ObjectRemoval(session: session).remove(objectsOfEvery: existing.versions, keeping: record.header.fileID)
        lookup = try await reader.lookUp(path: source)
        guard let current = lookup.newest, current.header.fileID == record.header.fileID else {
            session.notices.add("\(source) was changed by another client during the move; it was left as it is")
            return
        }
        try await commit.commit(try commit.tombstone(for: current), fileID: .random(), after: lookup)
        onStep(source, 3)
    }
}
