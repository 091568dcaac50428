import EDFSCrypto
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

extension ClusterSession {
    /// Every live file of the user, newest version of each, with per-stripe replica health over reachable nodes.
    public func list() async throws -> [FileListing] {
        let inventory = await takeInventory()
        let (records, unreadable) = await newestManifests(holders: inventory.manifestHolders)
        // Newest authentic version per name (a name may sit under two ids while a key rotation is unfinished).
        var newest = [String: ManifestRecord]()
        for record in records.values where newest[record.body.name].map({ record.supersedes($0) }) ?? true {
            newest[record.body.name] = record
        }
        if unreadable > 0 {
            notices.add("\(unreadable) stored manifest cop\(unreadable == 1 ? "y" : "ies") could not be opened and "
                        + "\(unreadable == 1 ? "was" : "were") skipped")
        }
        return try newest.values.filter { !$0.body.isDeleted }.sorted { $0.body.name < $1.body.name }.map { record in
            FileListing(name: record.body.name, size: record.body.size, modified: record.body.modificationSeconds,
                        version: record.header.version, keyEpoch: record.header.keyEpoch,
                        health: try health(of: record, objects: inventory.objectsByNode),
                        manifestNodes: record.holders.map(nodeName))
        }
    }

    /// What every reachable node holds: objects with lengths, and which nodes list each manifest id.
    struct Inventory {
        var objectsByNode: [Int: [String: UInt64]] = [:]
        var manifestHolders: [String: [Int]] = [:]
        var failedNodes: [Int] = []
    }

    func takeInventory() async -> Inventory {
        let answers = await onEveryNode { _, link in
            (manifests: try await link.listManifests(), objects: try await link.listObjects())
        }
        var inventory = Inventory()
        for (node, result) in answers.sorted(by: { $0.key < $1.key }) {
            switch result {
            case let .success(answer):
                inventory.objectsByNode[node] = answer.objects
                for id in answer.manifests.keys { inventory.manifestHolders[id, default: []].append(node) }
            case let .failure(error):
                inventory.failedNodes.append(node)
                notices.add("node \(nodeName(node)): cannot list: \(error)")
            }
        }
        return inventory
    }

    /// The newest authentic copy of each manifest id (with the nodes holding that version), and how many copies
    /// could not be opened.
    func newestManifests(holders: [String: [Int]]) async -> (records: [String: ManifestRecord], unreadable: Int) {
        var records = [String: ManifestRecord]()
        var unreadable = 0
        for (id, nodes) in holders.sorted(by: { $0.key < $1.key }) {
            var best: ManifestRecord?
            var bestHolders = [Int]()
            for node in nodes {
                guard let link = links[node],
                      let bytes = try? await withDeadline(Self.requestTimeout, link.nodeName, { try await link.getManifest(id) }),
                      let header = try? ManifestHeader.decode(prefixOf: bytes), header.manifestID.hex == id,
                      let bundle = bundle(epoch: header.keyEpoch),
                      let opened = try? Manifest.open(bytes, masterKey: bundle.masterKey) else {
                    unreadable += 1
                    continue
                }
                let candidate = ManifestRecord(id: opened.header.manifestID, header: opened.header, body: opened.body,
                                               bytes: bytes, holders: [])
                if let current = best, current.bytes == bytes {
                    bestHolders.append(node)
                } else if best.map({ candidate.supersedes($0) }) ?? true {
                    best = candidate
                    bestHolders = [node]
                }
            }
            guard let record = best else { continue }
            records[id] = ManifestRecord(id: record.id, header: record.header, body: record.body, bytes: record.bytes,
                                         holders: bestHolders)
        }
        return (records, unreadable)
    }

    /// "healthy" when every stripe has all R replicas on reachable nodes with the right length.
    func health(of record: ManifestRecord, objects: [Int: [String: UInt64]]) throws -> String {
        let replicas = Int(record.body.replicas)
        var worst: (stripe: Int, count: Int)?
        for stripe in 0..<Int(record.body.nodeCount) {
            let header = try record.stripeHeader(stripe)
            let present = try record.nodes(ofStripe: stripe).filter { objects[$0]?[header.objectName] == header.objectLength }.count
            if present < replicas, worst.map({ present < $0.count }) ?? true { worst = (stripe, present) }
        }
        guard let worst else { return "healthy" }
        return "\(worst.count == 0 ? "unavailable" : "degraded"): stripe \(worst.stripe) has \(worst.count) of \(replicas)"
    }

    /// Removes `name` everywhere: manifests first (so nothing points at missing objects), then the objects. With a
    /// node unreachable, a tombstone version is written instead, so the file does not return with that node.
    public func remove(name: String) async throws {
        let (record, lookup) = try await liveManifest(path: name)
        var removedEverywhere = false
        if reachableNodes.count == nodeCount && lookup.unsettledNodes.isEmpty {
            removedEverywhere = true
            for copy in lookup.copies {
                guard let link = links[copy.node] else { continue }
                do {
                    try await withDeadline(Self.requestTimeout, link.nodeName) {
                        try await link.deleteManifest(copy.id.hex, maxVersion: copy.version)
                    }
                } catch NodeLinkError.notFound {
                    continue
                } catch {
                    notices.add("node \(nodeName(copy.node)): manifest not removed: \(error)")
                    removedEverywhere = false
                }
            }
        }
        if !removedEverywhere {
            // Some node may still hold a copy: a newer tombstone version keeps the file removed when it answers again.
            let bundle = currentBundle
            let id = ManifestID.derive(path: name, nameKey: bundle.nameKey)
            let tombstone = ManifestBody(name: name, size: 0, modificationSeconds: 0, modificationNanoseconds: 0,
                                         dataKey: try .generate(), segmentSize: record.body.segmentSize,
                                         nodeCount: record.body.nodeCount, replicas: record.body.replicas,
                                         stripeLengths: [UInt64](repeating: 0, count: Int(record.body.nodeCount)),
                                         missingReplicas: [], isDeleted: true, dataKeyEpoch: bundle.epoch)
            let bytes = try Manifest.seal(manifestID: id, version: try lookup.nextVersion(), fileID: .random(),
                                          keyEpoch: bundle.epoch, body: tombstone, masterKey: bundle.masterKey)
            let (stored, _) = try await commitManifest(id: id, bytes: bytes)
            guard !stored.isEmpty else { throw ClientError.notEnoughNodes("no node accepted the removal of \(name)") }
            await removeSupersededManifests(lookup, keeping: id)
            notices.add("not every node answered: a tombstone keeps \(name) removed on the nodes that did not")
        }
        await removeObjects(of: record)
    }
}
