import EDFSFormat

/// One stored file as `ls` shows it.
public struct FileListing: Sendable, Codable, Equatable {
    public var name: String
    public var size: UInt64
    /// Modification time, seconds since 1970.
    public var modified: Int64
    public var version: UInt64
    public var keyEpoch: UInt32
    /// "healthy", "degraded: stripe 3 has 1 of 2", or "unavailable: stripe 0 has 0 of 2".
    public var health: String
    /// Nodes (by name) that hold the newest manifest.
    public var manifestNodes: [String]
    /// A folder entry (`edfs mkdir`) rather than a file.
    public var isFolder: Bool
    /// POSIX permission bits as stored (0: not recorded).
    public var mode: UInt32
    /// When this version was stored (the writer's clock), seconds since 1970; 0 when not recorded (older clients).
    public var stored: Int64

    public init(name: String, size: UInt64, modified: Int64, version: UInt64, keyEpoch: UInt32, health: String,
                manifestNodes: [String], isFolder: Bool, mode: UInt32, stored: Int64 = 0) {
        self.stored = stored
        self.name = name
        self.size = size
        self.modified = modified
        self.version = version
        self.keyEpoch = keyEpoch
        self.health = health
        self.manifestNodes = manifestNodes
        self.isFolder = isFolder
        self.mode = mode
    }
}

/// `edfs ls`: every live file and folder entry of the user, newest version of each, with per-stripe replica health
/// over the reachable nodes. Costs per node ⌈objects / 1000⌉ + ⌈manifests / 1000⌉ LIST pages and ⌈manifests / 1000⌉
/// GET_MANIFESTS (more only when a batch outgrows a frame): no round trip per file.
public struct ListOperation: Sendable {
    public let session: ClusterSession

    public init(_ session: ClusterSession) { self.session = session }

    public func run() async throws -> [FileListing] {
        try await runCountingUnlisted().files
    }

    /// `run()`, and how many stored files could not be listed at all: manifest ids some node holds of which no copy
    /// opens (damaged everywhere, or made up by a node); their names, and so their folders, are unknown.
    public func runCountingUnlisted() async throws -> (files: [FileListing], unlisted: Int) {
        let inventory = await ClusterInventory.take(session)
        try inventory.requireReadQuorum(session)
        let (records, unreadable, lost) = await inventory.newestManifests(session)
        // Newest authentic version per name (a name may sit under two ids while a key rotation is unfinished).
        // Keyed by the name's bytes: Swift's String equality would merge two names that differ only in Unicode
        // normalisation (NFC and NFD "é"), which are two names here, with two ids.
        var newest = [[UInt8]: ManifestRecord]()
        for record in records.values where newest[Array(record.body.name.utf8)].map({ record.supersedes($0) }) ?? true {
            newest[Array(record.body.name.utf8)] = record
        }
        if unreadable > 0 {
            session.notices.add("\(unreadable) stored manifest cop\(unreadable == 1 ? "y" : "ies") could not be opened "
                                + "and \(unreadable == 1 ? "was" : "were") skipped")
        }
        if !lost.isEmpty {
            session.notices.add("\(lost.count) stored file(s) cannot be listed: no copy of their manifest opens (damaged "
                                + "on every node, or made up by a node); their names are unknown: run edfs check")
        }
        // Sorted by the names' bytes: the keys alone (each made once), not the records, move in the sort.
        let live = newest.filter { !$0.value.body.isDeleted }
        let files = try live.keys.sorted { $0.lexicographicallyPrecedes($1) }.compactMap { live[$0] }.map { record in
            FileListing(name: record.body.name, size: record.body.size, modified: record.body.modificationSeconds,
                        version: record.header.version, keyEpoch: record.header.keyEpoch,
                        health: record.body.isFolder ? "healthy" : try inventory.health(of: record),
                        manifestNodes: record.holders.map(session.nodeName), isFolder: record.body.isFolder,
                        mode: record.body.mode, stored: record.body.storedSeconds)
        }
        return (files, lost.count)
    }
}
