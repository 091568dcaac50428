import EDFSFormat

/// Writes manifests — the commit point of a put, a removal or a rotation step — and drops superseded copies.
struct ManifestCommit: Sendable {
    let session: ClusterSession

    /// Stores a manifest on every reachable node; returns the nodes that accepted it and those that hold a
    /// version at least as new (another writer). Other failures are reported as notices.
    func store(id: ManifestID, bytes: [UInt8]) async -> (accepted: [Int], stale: [Int]) {
        let results = await session.fanOut.run { _, link in try await link.putManifest(id.hex, bytes: bytes) }
        var stale = [Int]()
        for (node, error) in results.failures {
            if case NodeLinkError.stale = error {
                stale.append(node)
            } else {
                session.notices.add("node \(session.nodeName(node)): manifest not stored: \(error)")
            }
        }
        return (results.succeeded, stale)
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
