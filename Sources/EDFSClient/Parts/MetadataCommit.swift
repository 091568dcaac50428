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
        let commit = ManifestCommit(session: session)
        let (stored, stale) = await commit.store(id: id, bytes: bytes, replacingForged: lookup.forged)
        guard stale.isEmpty else {
            await commit.rollBack(id: id, version: version, on: stored, restoring: lookup.newest)
            throw ClientError.failed("\(body.name) was changed by another client meanwhile; nothing was changed: "
                                     + "run the command again")
        }
        guard stored.count >= quorum else {
            await commit.rollBack(id: id, version: version, on: stored, restoring: lookup.newest)
            throw ClientError.notEnoughNodes("the manifest of \(body.name) reached \(stored.count) node(s), a commit "
                                             + "needs \(quorum); nothing was changed")
        }
        if stored.count == session.reachableNodes.count { await commit.removeSuperseded(lookup, keeping: id) }
        let header = try ManifestHeader.decode(prefixOf: bytes)
        return ManifestRecord(id: id, header: header, body: body, bytes: bytes, holders: stored)
    }

    /// Commits the folder entry `body` after `lookup`. Another client making the same folder at the same version is
    /// success: both converge on the copy every reader prefers (`ManifestRecord.supersedes`), which each gives to the
    /// nodes holding the other (ManifestCommit.replace), so the nodes end with one folder entry.
    func commitFolderEntry(_ body: ManifestBody, after lookup: ManifestLookup) async throws {
        let quorum = session.config.commitQuorum
        guard session.reachableNodes.count >= quorum else {
            throw ClientError.notEnoughNodes("making the folder \(body.name) needs \(quorum) reachable nodes, only "
                                             + "\(session.reachableNodes.count) answered; nothing was changed")
        }
        let bundle = session.currentBundle
        let id = ManifestID.derive(path: body.name, nameKey: bundle.nameKey)
        let version = try lookup.nextVersion()
        let bytes = try Manifest.seal(manifestID: id, version: version, fileID: .random(), keyEpoch: bundle.epoch,
                                      body: body, masterKey: bundle.masterKey)
        let commit = ManifestCommit(session: session)
        let (stored, stale) = await commit.store(id: id, bytes: bytes, replacingForged: lookup.forged)
        if stale.isEmpty {
            guard stored.count >= quorum else {
                await commit.rollBack(id: id, version: version, on: stored, restoring: lookup.newest)
                throw ClientError.notEnoughNodes("the folder entry of \(body.name) reached \(stored.count) node(s), a "
                                                 + "commit needs \(quorum); nothing was changed")
            }
            if stored.count == session.reachableNodes.count { await commit.removeSuperseded(lookup, keeping: id) }
            return
        }
        let now = try await ManifestReader(session).lookUp(path: body.name)
        guard let newest = now.newest, newest.body.isFolder, newest.header.version == version else {
            await commit.rollBack(id: id, version: version, on: stored, restoring: lookup.newest)
            throw ClientError.failed("\(body.name) was changed by another client meanwhile; nothing was changed: "
                                     + "run the command again")
        }
        let lacking = session.reachableNodes.filter { !newest.holders.contains($0) }
        let given = await commit.replace(id: newest.id, bytes: newest.bytes, version: version, on: lacking)
        guard newest.holders.count + given.succeeded.count >= quorum else {
            throw ClientError.notEnoughNodes("the folder \(body.name), made by two clients at once, reached "
                                             + "\(newest.holders.count + given.succeeded.count) node(s); run edfs repair")
        }
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
                            dataKeyEpoch: session.currentBundle.epoch, mode: mode, isFolder: true)
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
