import EDFSFormat

/// `edfs rm`: removes a file everywhere. A tombstone — a newer manifest version saying "removed" — replaces the file's
/// manifest on every reachable node (at least R: the commit quorum), then the objects go. Tombstones are kept for good:
/// a node that missed the removal, or one restored from an old backup or replaying an old copy, serves an older version
/// that the tombstone supersedes, so the file cannot come back (a removal that deleted every copy could be undone by
/// one node putting back its old manifest).
public struct RemoveOperation: Sendable {
    public let session: ClusterSession

    public init(_ session: ClusterSession) { self.session = session }

    public func run(name: String) async throws {
        let (record, lookup) = try await ManifestReader(session).liveManifest(path: name)
        guard !record.body.isFolder else { throw ClientError.conflict("\(name) is a folder") }
        let commit = ManifestCommit(session: session)
        // The tombstone must reach the commit quorum (R nodes), so that every read quorum (N − R + 1) meets a holder.
        let quorum = session.config.commitQuorum
        guard session.reachableNodes.count >= quorum else {
            throw ClientError.notEnoughNodes("a removal needs \(quorum) reachable nodes, only "
                                             + "\(session.reachableNodes.count) answered; nothing was removed")
        }
        let bundle = session.currentBundle
        let id = ManifestID.derive(path: name, nameKey: bundle.nameKey)
        let tombstone = ManifestBody(name: name, size: 0, modificationSeconds: 0, modificationNanoseconds: 0,
                                     dataKey: try .generate(), segmentSize: record.body.segmentSize,
                                     nodeCount: record.body.nodeCount, replicas: record.body.replicas,
                                     stripeLengths: [UInt64](repeating: 0, count: Int(record.body.nodeCount)),
                                     missingReplicas: [], isDeleted: true, dataKeyEpoch: bundle.epoch)
        let version = try lookup.nextVersion()
        let bytes = try Manifest.seal(manifestID: id, version: version, fileID: .random(),
                                      keyEpoch: bundle.epoch, body: tombstone, masterKey: bundle.masterKey)
        let (stored, stale) = await commit.store(id: id, bytes: bytes, replacingForged: lookup.forged)
        guard stored.count >= quorum else {
            await commit.rollBack(id: id, version: version, on: stored, restoring: record)
            if !stale.isEmpty {
                // Nodes answered, with a version at least as new: another client stored or removed this name meanwhile.
                throw ClientError.failed("\(name) was changed by another client during the removal; nothing was "
                                           + "removed: run edfs rm again")
            }
            throw ClientError.notEnoughNodes("the removal of \(name) reached \(stored.count) node(s), it needs \(quorum); "
                                             + "nothing was removed")
        }
        await commit.removeSuperseded(lookup, keeping: id)
        if session.reachableNodes.count < session.nodeCount {
            session.notices.add("not every node answered: the removal reaches them with the next edfs repair")
        }
        await ObjectRemoval(session: session).remove(objectsOfEvery: [record] + lookup.versions, keeping: nil)
    }
}
