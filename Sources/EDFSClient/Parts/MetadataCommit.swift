import EDFSCrypto
import EDFSFormat
import Glibc

/// Commits a manifest version that adds no objects — a folder entry, a rename's manifests — on the commit quorum,
/// or undoes it and throws, changing nothing.
struct MetadataCommit: Sendable {
    let session: ClusterSession

    /// Seals `body` as the version after `lookup`'s of `body.name`, for the objects of `fileID`, and stores it.
    /// Another writer committing the same name meanwhile makes it fail (`failed`), nothing changed.
    @discardableResult
    func commit(_ body: ManifestBody, fileID: FileID, after lookup: ManifestLookup) async throws -> ManifestRecord {
        let attempt = try await store(body, fileID: fileID, after: lookup)
        guard attempt.stale.isEmpty else {
            await undo(attempt, lookup)
            throw ClientError.failed("\(body.name) was changed by another client meanwhile; nothing was changed: "
                                     + "run the command again")
        }
        try await settle(attempt, body: body, lookup: lookup)
        let header = try ManifestHeader.decode(prefixOf: attempt.bytes)
        return ManifestRecord(id: attempt.id, header: header, body: body, bytes: attempt.bytes, holders: attempt.stored)
    }

    /// Commits the folder entry `body` after `lookup`. Another client making the same folder at the same version is
    /// success: both converge on the copy every reader prefers (`ManifestRecord.supersedes`), which each gives to the
    /// nodes holding the other (ManifestCommit.replace), so the nodes end with one folder entry.
    func commitFolderEntry(_ body: ManifestBody, after lookup: ManifestLookup) async throws {
        let attempt = try await store(body, fileID: .random(), after: lookup)
        guard !attempt.stale.isEmpty else { return try await settle(attempt, body: body, lookup: lookup) }
        let now = try await ManifestReader(session).lookUp(path: body.name)
        guard let newest = now.newest, newest.body.isFolder, newest.header.version == attempt.version else {
            await undo(attempt, lookup)
            throw ClientError.failed("\(body.name) was changed by another client meanwhile; nothing was changed: "
                                     + "run the command again")
        }
        let lacking = session.reachableNodes.filter { !newest.holders.contains($0) }
        let given = await ManifestCommit(session: session).replace(id: newest.id, bytes: newest.bytes,
                                                                   version: attempt.version, on: lacking)
        guard newest.holders.count + given.succeeded.count >= session.config.commitQuorum else {
            throw ClientError.notEnoughNodes("the folder \(body.name), made by two clients at once, reached "
                                             + "\(newest.holders.count + given.succeeded.count) node(s); run edfs repair")
        }
    }

    /// One sealed manifest and where it went.
    private struct Attempt {
        let id: ManifestID
        let version: UInt64
        let bytes: [UInt8]
        let stored: [Int]
        /// Nodes that already held this version (another writer).
        let stale: [Int]
    }

    /// Refuses without the commit quorum reachable; seals `body` as the next version and stores it everywhere.
    private func store(_ body: ManifestBody, fileID: FileID, after lookup: ManifestLookup) async throws -> Attempt {
        let quorum = session.config.commitQuorum
        guard session.reachableNodes.count >= quorum else {
            throw ClientError.notEnoughNodes("changing \(body.name) needs \(quorum) reachable nodes, only "
                                             + "\(session.reachableNodes.count) answered; nothing was changed")
        }
        let bundle = session.currentBundle
        let id = ManifestID.derive(path: body.name, nameKey: bundle.nameKey)
        let version = try lookup.nextVersion()
        let bytes = try Manifest.seal(manifestID: id, version: version, fileID: fileID, keyEpoch: bundle.epoch,
                                      body: body, masterKey: bundle.masterKey)
        let (stored, stale) = await ManifestCommit(session: session).store(id: id, bytes: bytes,
                                                                           replacingForged: lookup.forged)
        return Attempt(id: id, version: version, bytes: bytes, stored: stored, stale: stale)
    }

    /// Undoes an attempt short of the quorum (throws), else drops older epochs' copies once every node took it.
    private func settle(_ attempt: Attempt, body: ManifestBody, lookup: ManifestLookup) async throws {
        guard attempt.stored.count >= session.config.commitQuorum else {
            await undo(attempt, lookup)
            throw ClientError.notEnoughNodes("the manifest of \(body.name) reached \(attempt.stored.count) node(s), a "
                                             + "commit needs \(session.config.commitQuorum); nothing was changed")
        }
        if attempt.stored.count == session.reachableNodes.count {
            await ManifestCommit(session: session).removeSuperseded(lookup, keeping: attempt.id)
        }
    }

    /// Removes the attempt's copies and puts back what they replaced.
    private func undo(_ attempt: Attempt, _ lookup: ManifestLookup) async {
        await ManifestCommit(session: session).rollBack(id: attempt.id, version: attempt.version, on: attempt.stored,
                                                        restoring: lookup.newest)
    }

    /// A folder entry for `path` in the session's current key epoch.
    func folderEntry(_ path: String, mode: UInt32 = 0o755) throws -> ManifestBody {
        let count = session.nodeCount
        var now = timespec()
        clock_gettime(CLOCK_REALTIME, &now)
        return ManifestBody(name: path, size: 0, modificationSeconds: Int64(now.tv_sec),
                            modificationNanoseconds: UInt32(now.tv_nsec),
                            dataKey: try .generate(), segmentSize: UInt32(ClusterConfig.defaultSegmentSize),
                            nodeCount: UInt16(count), replicas: UInt16(session.config.replicas),
                            stripeLengths: [UInt64](repeating: 0, count: count), missingReplicas: [],
                            dataKeyEpoch: session.currentBundle.epoch, mode: mode, isFolder: true,
                            storedSeconds: Int64(now.tv_sec))
    }

    /// A tombstone superseding `record` (the name's objects are not touched).
    func tombstone(for record: ManifestRecord) throws -> ManifestBody {
        ManifestBody(name: record.body.name, size: 0, modificationSeconds: 0, modificationNanoseconds: 0,
                     dataKey: try .generate(), segmentSize: record.body.segmentSize, nodeCount: record.body.nodeCount,
                     replicas: record.body.replicas,
                     stripeLengths: [UInt64](repeating: 0, count: Int(record.body.nodeCount)), missingReplicas: [],
                     isDeleted: true, dataKeyEpoch: session.currentBundle.epoch)
    }
}
