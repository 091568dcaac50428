import EDFSFormat

/// What a node's data folder holds, for the storage gauges of a metrics scrape: users, objects, manifests, bytes on
/// disk, and the file system's free and total bytes. Measured by walking the user folders (one directory listing and
/// one `lstat` per stored file), so a scrape reuses a recent measurement (`MetricsScrape`). Blocking.
struct StorageUsage: Sendable, Equatable {
    var users = 0
    var objects = 0
    var manifests = 0
    /// Bytes on disk (data and footers) of every user's objects and manifests.
    var storedBytes: UInt64 = 0
    var freeBytes: UInt64 = 0
    var totalBytes: UInt64 = 0

    /// Measures `store` now. A user folder that cannot be read is skipped (the scrub reports damage, not this).
    static func measure(_ store: ObjectStore) throws(StoreError) -> StorageUsage {
        var usage = StorageUsage()
        for user in try FileIO.listDirectory(store.root + "/users") where NameRules.isValidUserName(user) {
            usage.users += 1
            if let counts = try? store.counts(user: user) {
                usage.objects += counts.objects
                usage.manifests += counts.manifests
            }
            usage.storedBytes += (try? store.storedBytes(user: user)) ?? 0
        }
        let space = try store.space()
        usage.freeBytes = space.free
        usage.totalBytes = space.total
        return usage
    }
}
