import EDFSCrypto
import EDFSFormat

/// One opened manifest and where it is stored.
public struct ManifestRecord: Sendable {
    public let id: ManifestID
    public let header: ManifestHeader
    public let body: ManifestBody
    public let bytes: [UInt8]
    /// Nodes that hold exactly this version.
    public let holders: [Int]

    /// The stripe headers this version's objects must carry.
    public func stripeHeader(_ index: Int) throws -> StripeHeader { try body.stripeHeader(index: index, fileID: header.fileID) }

    /// The placement of this version (its own N and R, not the current config's).
    public func placement() throws -> Placement {
        try Placement(nodeCount: Int(body.nodeCount), replicas: Int(body.replicas))
    }

    /// Nodes of stripe `index`, primary first.
    public func nodes(ofStripe index: Int) throws -> [Int] {
        let placement = try placement()
        return try placement.nodes(stripe: index, row: placement.row(for: header.fileID))
    }
}

/// What the nodes hold for one path.
public struct ManifestLookup: Sendable {
    /// The newest version that opened, if any (a tombstone is returned too: check `body.isDeleted`).
    public var newest: ManifestRecord?
    /// The highest version number any node holds under any of the path's ids (even one that did not open).
    public var highestVersion: UInt64
    /// Every (id, node, version) seen, for cleanup of older copies.
    public var copies: [(id: ManifestID, node: Int, version: UInt64)]

    /// The live file, or nil if absent or removed.
    public var live: ManifestRecord? { newest.flatMap { $0.body.isDeleted ? nil : $0 } }
}

extension ClusterSession {
    /// The manifest ids `path` has under each key bundle, newest epoch first.
    public func manifestIDs(path: String) -> [ManifestID] {
        bundles.map { ManifestID.derive(path: path, nameKey: $0.nameKey) }
    }

    /// Fetches `path`'s manifests from every reachable node and opens them; the newest authentic version wins.
    /// A manifest that fails authentication is reported and skipped, never trusted.
    public func lookUp(path: String) async throws -> ManifestLookup {
        let ids = manifestIDs(path: path)
        var lookup = ManifestLookup(newest: nil, highestVersion: 0, copies: [])
        var holders: [String: [Int]] = [:]
        var opened: [String: ManifestRecord] = [:]
        for id in ids {
            let fetched = await onEveryNode { _, link in try await link.getManifest(id.hex) }
            for (node, result) in fetched.sorted(by: { $0.key < $1.key }) {
                guard case let .success(.some(bytes)) = result else {
                    if case let .failure(error) = result, !(error is NodeLinkError && (error as? NodeLinkError) == .notFound) {
                        notices.add("node \(nodeName(node)): could not read a manifest: \(error)")
                    }
                    continue
                }
                guard let header = try? ManifestHeader.decode(prefixOf: bytes), header.manifestID == id else {
                    notices.add("node \(nodeName(node)) holds a malformed manifest for this name; ignored")
                    continue
                }
                lookup.copies.append((id, node, header.version))
                lookup.highestVersion = max(lookup.highestVersion, header.version)
                let key = "\(id.hex)/\(header.version)/\(Hex.encode(Digest.sha256(bytes)))"
                if opened[key] == nil {
                    guard let bundle = bundle(epoch: header.keyEpoch),
                          let (h, body) = try? Manifest.open(bytes, masterKey: bundle.masterKey) else {
                        notices.add("node \(nodeName(node)) holds a manifest for this name that fails authentication; ignored")
                        continue
                    }
                    opened[key] = ManifestRecord(id: id, header: h, body: body, bytes: bytes, holders: [])
                }
                holders[key, default: []].append(node)
            }
        }
        for (key, record) in opened {
            let candidate = ManifestRecord(id: record.id, header: record.header, body: record.body, bytes: record.bytes,
                                           holders: holders[key] ?? [])
            if let current = lookup.newest {
                if (candidate.header.version, candidate.header.keyEpoch) > (current.header.version, current.header.keyEpoch) {
                    lookup.newest = candidate
                }
            } else {
                lookup.newest = candidate
            }
        }
        return lookup
    }
}
