import EDFSCrypto
import EDFSFormat

/// What every reachable node holds for the user: objects with lengths, and which nodes list each manifest id;
/// and the newest authentic copy of each manifest.
struct ClusterInventory: Sendable {
    var objectsByNode: [Int: [String: UInt64]] = [:]
    var manifestHolders: [String: [Int]] = [:]
    /// The largest byte count any node listed for each manifest id.
    var manifestLengths: [String: UInt64] = [:]
    var failedNodes: [Int] = []

    /// Manifest bytes fetched from all nodes together per round of `newestManifests`: the listing's memory stays
    /// bounded when manifests are large (inline files carry up to 64 KiB each).
    static let manifestBytesPerRound: UInt64 = 16 << 20

    /// Lists every reachable node's objects and manifests at once.
    static func take(_ session: ClusterSession) async -> ClusterInventory {
        let answers = await session.fanOut.run { _, link in
            (manifests: try await link.listManifests(), objects: try await link.listObjects())
        }
        var inventory = ClusterInventory()
        for (node, answer) in answers.values {
            inventory.objectsByNode[node] = answer.objects
            for (id, length) in answer.manifests {
                inventory.manifestHolders[id, default: []].append(node)
                inventory.manifestLengths[id] = max(length, inventory.manifestLengths[id] ?? 0)
            }
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
    /// many copies could not be opened. Records keep no inline file's bytes (`ManifestBody.withoutInlineData()`, and
    /// of such a manifest only its header in `bytes`): a reader of one gets them with `ManifestReader`. Fetched in
    /// rounds of at most `bytesPerRound` of copies (all nodes together), each round's ids in bulk: ⌈ids / 1000⌉
    /// GET_MANIFESTS per node and round, more only when they outgrow a frame. `lost` are the ids some node answered
    /// with a copy (or with one it cannot read) of which none opened: a file damaged on every copy, its name unknown,
    /// or copies a node made up.
    func newestManifests(_ session: ClusterSession, bytesPerRound: UInt64 = manifestBytesPerRound) async
        -> (records: [String: ManifestRecord], unreadable: Int, lost: [String]) {
        var records = [String: ManifestRecord]()
        var unreadable = 0
        var lost = [String]()
        var reported = Set<Int>()
        for round in manifestRounds(bytesPerRound: bytesPerRound) {
            var idsByNode = [Int: [String]]()
            for id in round { for node in manifestHolders[id] ?? [] { idsByNode[node, default: []].append(id) } }
            let wanted = idsByNode
            let fetched = await session.fanOut.run(on: Array(wanted.keys)) { node, link in
                try await link.getManifests(wanted[node] ?? [])
            }
            for (node, error) in fetched.failures where reported.insert(node).inserted {
                session.notices.add("node \(session.nodeName(node)): cannot read its manifests: \(error)")
            }
            for id in round {
                let found = newest(id, nodes: manifestHolders[id] ?? [], fetched: fetched.results, session: session)
                unreadable += found.unread + found.unopened
                if let record = found.record {
                    records[id] = record
                } else if found.unopened > 0 {
                    lost.append(id)
                }
            }
        }
        return (records, unreadable, lost)
    }

    /// The listed manifest ids, sorted, cut into rounds of at most `bytesPerRound` of copies (at least one id each).
    func manifestRounds(bytesPerRound: UInt64) -> [[String]] {
        var rounds = [[String]]()
        var current = [String]()
        var bytes: UInt64 = 0
        for id in manifestHolders.keys.sorted() {
            let cost = (manifestLengths[id] ?? 0) &* UInt64(manifestHolders[id]?.count ?? 0)
            if !current.isEmpty, bytes &+ cost > bytesPerRound {
                rounds.append(current)
                current = []
                bytes = 0
            }
            current.append(id)
            bytes &+= cost
        }
        if !current.isEmpty { rounds.append(current) }
        return rounds
    }

    /// The newest authentic copy of `id` among what `nodes` answered (nil when none opened), how many copies were not
    /// read (a node that failed, or lost the id since it was listed), and how many were served but did not open or
    /// that their node holds but cannot read (its checksum fails).
    private func newest(_ id: String, nodes: [Int], fetched: [Int: Result<[String: WireManifestAnswer], any Error>],
                        session: ClusterSession) -> (record: ManifestRecord?, unread: Int, unopened: Int) {
        var unread = 0, unopened = 0
        // Each distinct copy is opened once: the nodes holding one version normally hold the same bytes.
        var copies = [(record: ManifestRecord, holders: [Int])]()
        for node in nodes.sorted() {
            let answer = try? fetched[node]?.get()[id]
            guard case let .manifest(bytes)? = answer else {
                if case .unreadable? = answer { unopened += 1 } else { unread += 1 }
                continue
            }
            if let known = copies.firstIndex(where: { $0.record.bytes == bytes }) {
                copies[known].holders.append(node)
                continue
            }
            guard let header = try? ManifestHeader.decode(prefixOf: bytes), header.manifestID.hex == id,
                  let bundle = session.bundle(epoch: header.keyEpoch),
                  let opened = try? Manifest.open(bytes, masterKey: bundle.masterKey) else {
                unopened += 1
                continue
            }
            copies.append((ManifestRecord(id: opened.header.manifestID, header: opened.header,
                                          body: opened.body.withoutInlineData(), bytes: bytes, holders: []), [node]))
        }
        // The newest authentic copy: one that no other supersedes (the first such, in node order, on a tie).
        guard var best = copies.first else { return (nil, unread, unopened) }
        for copy in copies.dropFirst() where copy.record.supersedes(best.record) { best = copy }
        // An inline file's manifest is mostly its bytes: the listing keeps its header only.
        let kept = best.record.body.isInline ? Array(best.record.bytes.prefix(ManifestHeader.byteCount)) : best.record.bytes
        return (ManifestRecord(id: best.record.id, header: best.record.header, body: best.record.body, bytes: kept,
                               holders: best.holders), unread, unopened)
    }

    /// "healthy" when every stripe has all R replicas on reachable nodes with the right length; else the worst stripe.
    /// An inline file's bytes are in its manifest: it is healthy when at least R nodes hold that version.
    func health(of record: ManifestRecord) throws -> String {
        let replicas = Int(record.body.replicas)
        if record.body.isInline {
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
