import EDFSCrypto
import EDFSFormat

/// What every reachable node holds for the user: objects with lengths, and which nodes list each manifest id;
/// and the newest authentic copy of each manifest.
struct ClusterInventory: Sendable {
    var objectsByNode: [Int: [String: UInt64]] = [:]
    var manifestHolders: [String: [Int]] = [:]
    var failedNodes: [Int] = []

    /// Lists every reachable node's objects and manifests at once.
    static func take(_ session: ClusterSession) async -> ClusterInventory {
        let answers = await session.fanOut.run { _, link in
            (manifests: try await link.listManifests(), objects: try await link.listObjects())
        }
        var inventory = ClusterInventory()
        for (node, answer) in answers.values {
            inventory.objectsByNode[node] = answer.objects
            for id in answer.manifests.keys { inventory.manifestHolders[id, default: []].append(node) }
        }
        for (node, error) in answers.failures {
            inventory.failedNodes.append(node)
            session.notices.add("node \(session.nodeName(node)): cannot list: \(error)")
        }
        return inventory
    }

    /// Nodes that answered the listing.
    func answeredNodes(_ session: ClusterSession) -> [Int] {
        session.reachableNodes.filter { !failedNodes.contains($0) }
    }

    /// Refuses (exit 69) unless the read quorum answered: a listing from fewer nodes could show removed files.
    func requireReadQuorum(_ session: ClusterSession) throws {
        try ManifestReader.requireReadQuorum(answered: answeredNodes(session).count, session: session, what: "the listing")
    }

    /// The newest authentic copy of each listed manifest id (with the nodes holding exactly that version), and how
    /// many copies could not be opened.
    func newestManifests(_ session: ClusterSession) async -> (records: [String: ManifestRecord], unreadable: Int) {
        var records = [String: ManifestRecord]()
        var unreadable = 0
        // Every node's manifests in bulk: ⌈ids / 1000⌉ GET_MANIFESTS per node, more only when they outgrow a frame.
        var idsByNode = [Int: [String]]()
        for (id, nodes) in manifestHolders { for node in nodes { idsByNode[node, default: []].append(id) } }
        let wanted = idsByNode.mapValues { $0.sorted() }
        let fetched = await session.fanOut.run(on: Array(wanted.keys)) { node, link in
            try await link.getManifests(wanted[node] ?? [])
        }
        for (node, error) in fetched.failures {
            session.notices.add("node \(session.nodeName(node)): cannot read its manifests: \(error)")
        }
        for (id, nodes) in manifestHolders {
            // Each distinct copy is opened once: the nodes holding one version normally hold the same bytes.
            var copies = [(record: ManifestRecord, holders: [Int])]()
            for node in nodes.sorted() {
                guard case let .success(answers) = fetched.results[node], case let .manifest(bytes)? = answers[id] else {
                    unreadable += 1
                    continue
                }
                if let known = copies.firstIndex(where: { $0.record.bytes == bytes }) {
                    copies[known].holders.append(node)
                    continue
                }
                guard let header = try? ManifestHeader.decode(prefixOf: bytes), header.manifestID.hex == id,
                      let bundle = session.bundle(epoch: header.keyEpoch),
                      let opened = try? Manifest.open(bytes, masterKey: bundle.masterKey) else {
                    unreadable += 1
                    continue
                }
                copies.append((ManifestRecord(id: opened.header.manifestID, header: opened.header, body: opened.body,
                                              bytes: bytes, holders: []), [node]))
            }
            // The newest authentic copy: one that no other supersedes (the first such, in node order, on a tie).
            guard var best = copies.first else { continue }
            for copy in copies.dropFirst() where copy.record.supersedes(best.record) { best = copy }
            records[id] = ManifestRecord(id: best.record.id, header: best.record.header, body: best.record.body,
                                         bytes: best.record.bytes, holders: best.holders)
        }
        return (records, unreadable)
    }

    /// "healthy" when every stripe has all R replicas on reachable nodes with the right length; else the worst stripe.
    /// An inline file's bytes are in its manifest: it is healthy when at least R nodes hold that version.
    func health(of record: ManifestRecord) throws -> String {
        let replicas = Int(record.body.replicas)
        if record.body.inlineData != nil {
            let present = record.holders.count
            return present >= replicas ? "healthy"
                : "\(present == 0 ? "unavailable" : "degraded"): inline, its manifest on \(present) of \(replicas) nodes"
        }
        var worst: (stripe: Int, count: Int)?
        for stripe in 0..<record.stripeCount {
            let header = try record.stripeHeader(stripe)
            let present = try record.nodes(ofStripe: stripe)
                .filter { objectsByNode[$0]?[header.objectName] == header.objectLength }.count
            if present < replicas, worst.map({ present < $0.count }) ?? true { worst = (stripe, present) }
        }
        guard let worst else { return "healthy" }
        return "\(worst.count == 0 ? "unavailable" : "degraded"): stripe \(worst.stripe) has \(worst.count) of \(replicas)"
    }
}
