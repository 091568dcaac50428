import EDFSCrypto
import EDFSFormat

/// One opened manifest and where it is stored.
public struct ManifestRecord: Sendable {
    public let id: ManifestID
    public let header: ManifestHeader
    public let body: ManifestBody
    /// The manifest as stored (for an inline file in a listing, `ClusterInventory.newestManifests`, its header only).
    public let bytes: [UInt8]
    /// Nodes that hold exactly this version.
    public let holders: [Int]

    /// k, the stripes of this version (N, or 1 for a single-stripe file): what every reader iterates over.
    public var stripeCount: Int { body.stripeCount }

    /// The stripe headers this version's objects must carry.
    public func stripeHeader(_ index: Int) throws -> StripeHeader { try body.stripeHeader(index: index, fileID: header.fileID) }

    /// An inline file's bytes. Throws for a record whose body was kept without them (a listing's,
    /// `ClusterInventory.newestManifests`): read the name again with `ManifestReader` to get them.
    public func inlineData() throws -> SecureBytes {
        guard let data = body.inlineData else {
            throw ClientError.failed("\(body.name): this copy of its manifest was kept without the file's bytes")
        }
        return data
    }

    /// The placement of this version (its own N and R, not the current config's).
    public func placement() throws -> Placement {
        try Placement(nodeCount: Int(body.nodeCount), replicas: Int(body.replicas))
    }

    /// True when `self` is the newer of two versions: higher version, then higher key epoch, then — for two
    /// writers that raced to the same version — the larger file id, so every reader picks the same one.
    public func supersedes(_ other: ManifestRecord) -> Bool {
        if (header.version, header.keyEpoch) != (other.header.version, other.header.keyEpoch) {
            return (header.version, header.keyEpoch) > (other.header.version, other.header.keyEpoch)
        }
        if header.fileID != other.header.fileID {
            return other.header.fileID.bytes.lexicographicallyPrecedes(header.fileID.bytes)
        }
        return other.bytes.lexicographicallyPrecedes(bytes)  // a total order: every reader picks the same copy
    }

    /// Nodes of stripe `index`, primary first.
    public func nodes(ofStripe index: Int) throws -> [Int] {
        let placement = try placement()
        return try placement.nodes(stripe: index, row: placement.row(for: header.fileID))
    }
}
