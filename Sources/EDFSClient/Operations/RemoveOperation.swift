import EDFSFormat

/// `edfs rm`: removes a file everywhere — manifests first (so nothing points at missing objects), then the objects.
/// With a node unreachable, a tombstone version is written instead, so the file does not return with that node.
public struct RemoveOperation: Sendable {
    public let session: ClusterSession

    public init(_ session: ClusterSession) { self.session = session }

    public func run(name: String) async throws {
        let (record, lookup) = try await ManifestReader(session).liveManifest(path: name)
        let commit = ManifestCommit(session: session)
        var removedEverywhere = false
        if session.reachableNodes.count == session.nodeCount && lookup.unsettledNodes.isEmpty {
            let failures = await commit.remove(lookup.copies)
            for (node, error) in failures {
                session.notices.add("node \(session.nodeName(node)): manifest not removed: \(error)")
            }
            removedEverywhere = failures.isEmpty
        }
        if !removedEverywhere {
            // Some node may still hold a copy: a newer tombstone version keeps the file removed when it answers again.
            // It must reach the commit quorum (R nodes), so that every read quorum (N − R + 1) meets a holder.
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
            let (stored, _) = await commit.store(id: id, bytes: bytes, replacingForged: lookup.forged)
            guard stored.count >= quorum else {
                await commit.rollBack(id: id, version: version, on: stored, restoring: record)
                throw ClientError.notEnoughNodes("the removal of \(name) reached \(stored.count) node(s), it needs \(quorum); "
                                                 + "nothing was removed")
            }
            await commit.removeSuperseded(lookup, keeping: id)
            session.notices.add("not every node answered: a tombstone keeps \(name) removed on the nodes that did not")
        }
        await ObjectRemoval(session: session).remove(objectsOfEvery: [record] + lookup.versions, keeping: nil)
    }
}
