import EDFSClient
import Glibc

/// The mount's store: the operations of EDFSClient over one session, with one segment cache for every open file.
/// Folder entries, modes and metadata-only renames wait for the client's folder model (docs/MOUNT.md); until then
/// those calls throw `MountError.unsupported`.
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
            MountEntry(name: $0.name, isFolder: false, size: $0.size, modified: $0.modified, mode: 0)
        }
    }

    func openReader(_ name: String) async throws -> RandomAccessRead {
        let (record, _) = try await ManifestReader(session).liveManifest(path: name)
        return try RandomAccessRead(session: session, record: record, cache: cache, readAheadBytes: readAheadBytes)
    }

    func store(file path: String, as name: String, mode: UInt32) async throws -> MountEntry {
        let result = try await PutOperation(session).run(file: path, as: name)
        var info = stat()
        let modified = stat(path, &info) == 0 ? Int64(info.st_mtim.tv_sec) : Int64(time(nil))
        return MountEntry(name: name, isFolder: false, size: result.size, modified: modified, mode: 0)
    }

    func remove(_ name: String) async throws { try await RemoveOperation(session).run(name: name) }

    func move(_ from: String, to: String) async throws {
        throw MountError.unsupported("renames wait for the client's metadata-only move")
    }

    func makeFolder(_ name: String) async throws {
        throw MountError.unsupported("stored folder entries wait for the client's folder model")
    }

    func removeFolder(_ name: String) async throws {
        throw MountError.unsupported("stored folder entries wait for the client's folder model")
    }

    func space() async throws -> ClusterSpace { await ClusterSpace.gather(session) }
}
