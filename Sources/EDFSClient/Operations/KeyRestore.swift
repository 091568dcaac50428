import EDFSCrypto
import EDFSFormat

/// `edfs key restore`: undoes a destructive keyslot write (a keyslot that does not open, another user's, or a made-up
/// revision on every node). Reads every node's keyslot and its history (the last keyslots each node accepted), takes
/// the newest that opens with the password, and stores it again — same keys, same KDF — at a revision above every
/// one the nodes hold, so it supersedes the bad ones.
public struct KeyRestore: Sendable {
    public let links: ClusterLinks
    public let user: String
    public let notices: Notices

    public init(links: ClusterLinks, user: String, notices: Notices = Notices()) {
        self.links = links
        self.user = user
        self.notices = notices
    }

    /// One distinct keyslot found, for `--list`.
    public struct Found: Sendable, Equatable, Codable {
        public var nodes: [String]
        public var revision: UInt64
        public var epoch: UInt32
        /// Whether it is some node's current keyslot (otherwise only in histories).
        public var current: Bool
    }

    /// What a restore found and did.
    public struct Report: Sendable {
        public var found: [Found]
        /// The revision of the keyslot that opened, and the revision it was stored again at (nil with `dryRun`).
        public var opened: UInt64
        public var storedAs: UInt64?
        /// Nodes that took the restored keyslot.
        public var storedOn: [String]
    }

    public func run(derivation: PasswordDerivation, kdfIterations: UInt32, dryRun: Bool = false) async throws -> Report {
        let nodes = links.links
        let names = links.config.servers.map(\.name)
        let fanOut = NodeFanOut(links: nodes)
        let current = await KeyslotPublication(links: nodes).fetchAll()
        let histories = await fanOut.run { _, link in try await link.keyslotHistory() }
        for (node, error) in histories.failures {
            notices.add("node \(names[node]): keeps no history of locked keys (\(error))")
        }
        var slots = [(node: Int, slot: Keyslot)]()
        var currentBytes = Set<[UInt8]>()
        for case let (node, .slot(slot)) in current {
            slots.append((node, slot))
            currentBytes.insert(slot.bytes)
        }
        for (node, entries) in histories.values {
            for bytes in entries { if let slot = try? Keyslot.decode(bytes) { slots.append((node, slot)) } }
        }
        let candidates = KeyUnlock.candidates(slots)
        guard !candidates.isEmpty else { throw ClientError.failed("no node holds keys of user \(user), current or past") }
        let found = candidates.map {
            Found(nodes: $0.holders.map { names[$0] }, revision: $0.slot.header.revision, epoch: $0.slot.header.epoch,
                  current: currentBytes.contains($0.slot.bytes))
        }
        let unlock = KeyUnlock(links: nodes, user: user, notices: notices)
        let (slot, kek, bundles) = try await unlock.open(candidates, derivations: [derivation], kdfIterations: kdfIterations)
        var report = Report(found: found, opened: slot.header.revision, storedAs: nil, storedOn: [])
        guard !dryRun else { return report }
        let highest = current.compactMap { _, state -> UInt64? in
            if case let .slot(stored) = state { return stored.header.revision }
            return nil
        }.max() ?? slot.header.revision
        let (revision, overflow) = max(highest, slot.header.revision).addingReportingOverflow(1)
        // Above every stored revision, so every node takes it as newer; when a forged keyslot has used up the counter
        // (2^64−1), the very bytes that opened, which the nodes took before and accept again from their history.
        let restored = overflow ? slot
            : try Keyslot.seal(user: user, kek: kek, kdf: slot.header.kdf, revision: revision, bundles: bundles,
                               reencrypting: slot.header.reencrypting)
        let stored = await KeyslotPublication(links: nodes).store(restored)
        for (node, error) in stored.failures {
            notices.add("node \(names[node]) did not take the restored keys: \(error)")
        }
        guard !stored.succeeded.isEmpty else {
            throw ClientError.notEnoughNodes("no node took the restored keys; nothing was changed")
        }
        report.storedAs = restored.header.revision
        report.storedOn = stored.succeeded.map { names[$0] }
        return report
    }
}
