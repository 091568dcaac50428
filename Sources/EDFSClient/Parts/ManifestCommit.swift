import EDFSFormat

/// Writes manifests — the commit point of a put, a removal or a rotation step — and drops superseded copies.
struct ManifestCommit: Sendable {
    let session: ClusterSession

    /// Stores a manifest on every reachable node; returns the nodes that accepted it and those that hold a
    /// version at least as new (another writer). Other failures are reported as notices.
    ///
    /// A node that refuses it as stale because it holds one of `forged` — a copy under this id that fails
    /// authentication at a key epoch the session holds, so no client with the keys wrote it — has that copy removed
    /// (only up to its own version number) and is asked again: a forged version number cannot block a name.
    func store(id: ManifestID, bytes: [UInt8],
               replacingForged forged: [(node: Int, id: ManifestID, storedVersion: UInt64)] = []) async
        -> (accepted: [Int], stale: [Int]) {
        let results = await session.fanOut.run { _, link in try await link.putManifest(id.hex, bytes: bytes) }
        return await settle(id: id, bytes: bytes, forged: forged, accepted: results.succeeded, failures: results.failures)
    }

    /// One manifest to store with `store(_:)`: what `store(id:bytes:replacingForged:)` takes.
    struct Write: Sendable {
        let id: ManifestID
        let bytes: [UInt8]
        let forged: [(node: Int, id: ManifestID, storedVersion: UInt64)]
    }

    /// `store(id:bytes:replacingForged:)` for several manifests at once: one PUT_MANIFESTS per node (per
    /// `WireProtocol.maxManifestPutBatch` manifests) instead of a PUT_MANIFEST per manifest and node. Each manifest's
    /// outcome is settled from the nodes' answers for it alone, by the same rules as a single store (a node's failure
    /// of the whole request fails it for every manifest), so one item's answer never decides another's.
    func store(_ writes: [Write]) async -> [(accepted: [Int], stale: [Int])] {
        let items = writes.map { WireManifestWrite(id: $0.id.hex, bytes: $0.bytes) }
        let results = await session.fanOut.run { _, link in try await link.putManifests(items) }
        var settled = [(accepted: [Int], stale: [Int])]()
        settled.reserveCapacity(writes.count)
        for (index, write) in writes.enumerated() {
            var accepted = [Int]()
            var failures = [(node: Int, error: any Error)]()
            for (node, result) in results.results.sorted(by: { $0.key < $1.key }) {
                switch result {
                case let .success(outcomes):
                    // Links answer every item (NodeConnection checks the count); short answers fail the rest.
                    let outcome = outcomes.indices.contains(index) ? outcomes[index]
                        : NodeLinkError.unreachable("no answer for this manifest")
                    if let outcome { failures.append((node, outcome)) } else { accepted.append(node) }
                case let .failure(error):
                    failures.append((node, error))
                }
            }
            settled.append(await settle(id: write.id, bytes: write.bytes, forged: write.forged, accepted: accepted,
                                        failures: failures))
        }
        return settled
    }

    /// The outcome of one manifest's store from the nodes' answers: stale refusals apart, a forged copy replaced,
    /// other failures reported as notices.
    private func settle(id: ManifestID, bytes: [UInt8], forged: [(node: Int, id: ManifestID, storedVersion: UInt64)],
                        accepted: [Int], failures: [(node: Int, error: any Error)]) async -> (accepted: [Int], stale: [Int]) {
        var accepted = accepted
        var stale = [Int]()
        var retry = [Int: UInt64]()
        for (node, error) in failures {
            if case NodeLinkError.stale = error {
                if let copy = forged.first(where: { $0.node == node && $0.id == id }) {
                    retry[node] = copy.storedVersion
                } else {
                    stale.append(node)
                }
            } else {
                session.notices.add("node \(session.nodeName(node)): manifest not stored: \(error)")
            }
        }
        if !retry.isEmpty {
            let bounds = retry
            let replaced = await session.fanOut.run(on: Array(bounds.keys)) { node, link in
                try await link.deleteManifest(id.hex, maxVersion: bounds[node] ?? 0)
                try await link.putManifest(id.hex, bytes: bytes)
            }
            for node in replaced.succeeded {
                session.notices.add("node \(session.nodeName(node)) held a forged manifest for this name; replaced it")
            }
            for (node, error) in replaced.failures {
                session.notices.add("node \(session.nodeName(node)) holds a forged manifest for this name that could not "
                                    + "be replaced: \(error)")
            }
            accepted = (accepted + replaced.succeeded).sorted()
        }
        return (accepted, stale)
    }

    /// Gives each node of `nodes` exactly `bytes` under `id`: removes the copy there first (only up to `bound[node]`,
    /// default `version`, so a newer copy written meanwhile survives and refuses this one). A refusal because the node
    /// already holds these very bytes (another client wrote them meanwhile) counts as success.
    func replace(id: ManifestID, bytes: [UInt8], version: UInt64, on nodes: [Int],
                 bounds: [Int: UInt64] = [:]) async -> FanOutResults<Void> {
        await session.fanOut.run(on: nodes) { node, link in
            do {
                try await link.deleteManifest(id.hex, maxVersion: bounds[node] ?? version)
            } catch NodeLinkError.notFound {
                // Already gone (the other client replacing it too): put ours.
            }
            do {
                try await link.putManifest(id.hex, bytes: bytes)
            } catch NodeLinkError.stale {
                guard try await link.getManifest(id.hex) == bytes else { throw NodeLinkError.stale }
            }
        }
    }

    /// Undoes a commit that reached fewer nodes than the commit quorum: on each node of `nodes`, removes the copy of
    /// `id` at `version` and puts back `previous` where it sat under the same id. Best effort; returns the nodes where
    /// the undo failed (they keep the new copy, and `edfs check` reports them).
    @discardableResult
    func rollBack(id: ManifestID, version: UInt64, on nodes: [Int], restoring previous: ManifestRecord?) async -> [Int] {
        let restore = previous.flatMap { $0.id == id ? $0.bytes : nil }
        let results = await session.fanOut.run(on: nodes) { _, link in
            try await link.deleteManifest(id.hex, maxVersion: version)
            if let restore { try await link.putManifest(id.hex, bytes: restore) }
        }
        for (node, error) in results.failures {
            session.notices.add("node \(session.nodeName(node)): could not undo the manifest write: \(error)")
        }
        return results.failures.map(\.node)
    }

    /// Removes the copies `lookup` found under ids other than `keeping` (older key epochs), each up to the version
    /// seen, so a newer copy written meanwhile survives.
    func removeSuperseded(_ lookup: ManifestLookup, keeping id: ManifestID) async {
        await remove(lookup.copies.filter { $0.id != id })
    }

    /// Removes the given copies, each up to its version; returns the nodes where a removal failed (not-found counts
    /// as removed).
    @discardableResult
    func remove(_ copies: [(id: ManifestID, node: Int, version: UInt64)]) async -> [(node: Int, error: any Error)] {
        let byNode = Dictionary(grouping: copies, by: \.node)
        let results = await session.fanOut.run(on: Array(byNode.keys)) { node, link in
            var failure: (any Error)?
            for copy in byNode[node] ?? [] {
                do {
                    try await link.deleteManifest(copy.id.hex, maxVersion: copy.version)
                } catch NodeLinkError.notFound {
                    continue
                } catch {
                    failure = error
                }
            }
            if let failure { throw failure }
        }
        return results.failures
    }
}
