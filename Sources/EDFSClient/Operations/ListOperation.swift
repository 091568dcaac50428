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
}

/// `edfs ls`: every live file of the user, newest version of each, with per-stripe replica health over the
/// reachable nodes.
public struct ListOperation: Sendable {
    public let session: ClusterSession

    public init(_ session: ClusterSession) { self.session = session }

    public func run() async throws -> [FileListing] {
        let inventory = await ClusterInventory.take(session)
        try inventory.requireReadQuorum(session)
        let (records, unreadable) = await inventory.newestManifests(session)
        // Newest authentic version per name (a name may sit under two ids while a key rotation is unfinished).
        var newest = [String: ManifestRecord]()
        for record in records.values where newest[record.body.name].map({ record.supersedes($0) }) ?? true {
            newest[record.body.name] = record
        }
        if unreadable > 0 {
            session.notices.add("\(unreadable) stored manifest cop\(unreadable == 1 ? "y" : "ies") could not be opened "
                                + "and \(unreadable == 1 ? "was" : "were") skipped")
        }
        return try newest.values.filter { !$0.body.isDeleted }.sorted { $0.body.name < $1.body.name }.map { record in
            FileListing(name: record.body.name, size: record.body.size, modified: record.body.modificationSeconds,
                        version: record.header.version, keyEpoch: record.header.keyEpoch,
                        health: try inventory.health(of: record), manifestNodes: record.holders.map(session.nodeName))
        }
    }
}
