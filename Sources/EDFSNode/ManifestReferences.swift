import EDFSCrypto
import EDFSFormat

/// Which file ids each user's manifests on this node name, so that the node never deletes an object a manifest it
/// holds still names (`MetadataStore.deleteObject`): a client that misjudges a version as superseded — a rename
/// whose first step a node missed, a replayed old manifest — cannot make an honest node destroy live data.
///
/// A user's counts are built from the manifest headers on disk at first use and kept up to date by the node's own
/// manifest writes and deletes, under the user's lock. Anything else that changes the folder (a scrub moving a
/// manifest into quarantine) drops them, to be built again. Counting a removed manifest too long only keeps an
/// object longer (orphan collection reclaims it); nothing that adds a manifest bypasses the counts.
final class ManifestReferences: Sendable {
    private let counts = PthreadMutex([String: [String: Int]]())

    /// True when a manifest of `user` names `fileID`; `scan` reads every manifest header's file id when the user's
    /// counts are not built yet (nil: a header does not decode, so the answer is "named" to be safe).
    func names(user: String, fileID: String, scan: () throws(StoreError) -> [String]?) throws(StoreError) -> Bool {
        if let known = counts.withLock({ $0[user] }) { return (known[fileID] ?? 0) > 0 }
        guard let ids = try scan() else { return true }
        var built = [String: Int]()
        for id in ids { built[id, default: 0] += 1 }
        counts.withLock { $0[user] = built }
        return (built[fileID] ?? 0) > 0
    }

    /// A manifest naming `old` (nil: none) was replaced by one naming `new` (nil: removed).
    func replaced(user: String, old: String?, new: String?) {
        counts.withLock { all in
            guard var user_ = all[user] else { return }
            if let old, let count = user_[old] { user_[old] = count > 1 ? count - 1 : nil }
            if let new { user_[new, default: 0] += 1 }
            all[user] = user_
        }
    }

    /// Drops every user's counts (the manifest folders changed behind the node's back).
    func forgetAll() { counts.withLock { $0.removeAll() } }
}
