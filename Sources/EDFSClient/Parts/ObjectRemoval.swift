import EDFSFormat

/// Deletes the stripe objects of file versions from the nodes of their placement (best effort: an object a node
/// keeps is an orphan, never a loss). A version whose objects another name may share (a rename) keeps them: the
/// nodes' orphan collection reclaims them once no manifest names their file id.
struct ObjectRemoval: Sendable {
    let session: ClusterSession

    /// Deletes the objects of `record`'s version. While a re-encrypting rotation is unfinished, also the objects that
    /// rotation may have written for this version before it was interrupted: once the version is superseded the
    /// rotation will never commit them.
    func remove(objectsOf record: ManifestRecord, includingReencryptionTarget: Bool = true) async {
        guard record.body.hasObjects, !record.body.sharesObjects, let placement = try? record.placement() else { return }
        await remove(fileID: record.header.fileID, placement: placement, stripeCount: record.stripeCount)
        if includingReencryptionTarget, session.bundles.count == 2, session.keyslot.header.reencrypting,
           let derived = try? ReencryptionTarget.fileID(for: record.header.fileID, target: session.bundles[0]) {
            await remove(fileID: derived, placement: placement, stripeCount: record.stripeCount)
        }
    }

    /// Deletes the objects of every version in `versions` that is not a tombstone and whose file id is not `keeping`
    /// (each file id once): what a commit superseded, whichever key epoch or node it was seen under.
    func remove(objectsOfEvery versions: [ManifestRecord], keeping: FileID?) async {
        var seen = Set<FileID>()
        for record in versions where record.body.hasObjects && record.header.fileID != keeping {
            guard seen.insert(record.header.fileID).inserted else { continue }
            await remove(objectsOf: record)
        }
    }

    /// Deletes the `stripeCount` stripe objects of `fileID` (k: N, or 1 for a single-stripe file) from the reachable
    /// nodes `placement` names for them.
    func remove(fileID: FileID, placement: Placement, stripeCount: Int) async {
        let row = placement.row(for: fileID)
        var byNode = [Int: [String]]()
        for stripe in 0..<min(stripeCount, placement.nodeCount) {
            guard let nodes = try? placement.nodes(stripe: stripe, row: row) else { continue }
            for node in nodes {
                byNode[node, default: []].append(StripeHeader.objectName(fileID: fileID, stripeIndex: UInt32(stripe)))
            }
        }
        let names = byNode
        _ = await session.fanOut.run(on: Array(names.keys)) { node, link in
            for name in names[node] ?? [] { try? await link.delete(object: name) }
        }
    }
}
