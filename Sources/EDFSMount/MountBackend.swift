import EDFSClient

/// One stored name as the mount sees it.
struct MountEntry: Sendable, Equatable {
    var name: String
    var isFolder: Bool
    var size: UInt64
    /// Modification time, seconds since 1970.
    var modified: Int64
    /// Permission bits the store recorded, 0 when none.
    var mode: UInt32
}

/// What the FUSE layer asks of the store. `ClusterBackend` implements it over a session; a store that cannot do a
/// call throws `MountError.unsupported`, and the FUSE layer answers for it (a rename gets EXDEV, so `mv` copies; a
/// folder is kept in the mount only).
protocol MountBackend: Sendable {
    /// Every stored file and stored folder entry.
    func list() async throws -> [MountEntry]
    /// A random-access reader of the newest version of `name`.
    func openReader(_ name: String) async throws -> RandomAccessRead
    /// Stores the local file at `path` as `name` (one put: the previous version stays if it fails).
    func store(file path: String, as name: String, mode: UInt32) async throws -> MountEntry
    /// Removes the file `name`.
    func remove(_ name: String) async throws
    /// Renames a file or a folder (metadata only), replacing a file or an empty folder at `to`.
    func move(_ from: String, to: String) async throws
    /// Stores an empty folder entry (EEXIST when it is one already).
    func makeFolder(_ name: String, mode: UInt32) async throws
    /// Removes an empty stored folder entry.
    func removeFolder(_ name: String) async throws
    /// Space for new data.
    func space() async throws -> ClusterSpace
}
