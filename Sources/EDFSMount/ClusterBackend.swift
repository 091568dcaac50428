import EDFSClient
import Glibc

/// The mount's store: the operations of EDFSClient over one session, with one segment cache for every open file.
/// A `ClientError.conflict` (a name in the way, a folder not empty) becomes the errno of the call that met it.
final class ClusterBackend: MountBackend {
    let session: ClusterSession
    let cache: SegmentCache
    let readAheadBytes: Int

    init(session: ClusterSession, cache: SegmentCache, readAheadBytes: Int) {
        self.session = session
        self.cache = cache
        self.readAheadBytes = readAheadBytes
    }

    func list() async throws -> [MountEntry] {
        try await ListOperation(session).run().map {
            MountEntry(name: $0.name, isFolder: $0.isFolder, size: $0.size, modified: $0.modified, mode: $0.mode)
        }
    }

    func openReader(_ name: String) async throws -> RandomAccessRead {
        let (record, _) = try await ManifestReader(session).liveManifest(path: name)
        guard !record.body.isFolder else { throw MountError.errno(EISDIR) }
        return try RandomAccessRead(session: session, record: record, cache: cache, readAheadBytes: readAheadBytes)
    }

    func store(file path: String, as name: String, mode: UInt32) async throws -> MountEntry {
        let result = try await conflict(EISDIR) { try await PutOperation(session).run(file: path, as: name, mode: mode) }
        var info = stat()
        let modified = stat(path, &info) == 0 ? Int64(info.st_mtim.tv_sec) : Int64(time(nil))
        return MountEntry(name: name, isFolder: false, size: result.size, modified: modified, mode: mode)
    }

    func remove(_ name: String) async throws { try await RemoveOperation(session).run(name: name) }

    func move(_ from: String, to: String) async throws {
        try await conflict(EEXIST) { _ = try await MoveOperation(session).run(from: from, to: to, replace: true) }
    }

    func makeFolder(_ name: String, mode: UInt32) async throws {
        let made = try await conflict(EEXIST) { try await FolderOperation(session).make(name, mode: mode) }
        if !made { throw MountError.errno(EEXIST) }
    }

    func removeFolder(_ name: String) async throws {
        try await conflict(ENOTEMPTY) { try await FolderOperation(session).remove(name) }
    }

    func space() async throws -> ClusterSpace { await ClusterSpace.gather(session) }

    /// Runs `body`; a conflict becomes `code`.
    private func conflict<T>(_ code: Int32, _ body: () async throws -> T) async throws -> T {
        do { return try await body() } catch ClientError.conflict { throw MountError.errno(code) }
    }
}
