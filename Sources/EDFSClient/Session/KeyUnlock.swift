import EDFSCrypto
import EDFSFormat

/// Opens the user's keys at the start of a session: picks the newest keyslot the nodes hold, unlocks it with the
/// password (one PBKDF2), brings nodes that lack it up to date, or creates the keys of a new user.
struct KeyUnlock: Sendable {
    let links: [(any NodeLink)?]
    let user: String
    let notices: Notices

    /// Most PBKDF2 iterations a client will run for a stored keyslot: a node cannot make it spin for hours.
    static let maximumKDFIterations: UInt32 = 100_000_000

    private var publication: KeyslotPublication { KeyslotPublication(links: links) }

    /// The keyslot, the KEK that opened it and its bundles. `passwords` are tried in order (a resumed password change
    /// knows two); new keys are made only for a user with no keyslot and no file on any node of the config.
    func unlockOrCreate(passwords: [SecureBytes], kdfIterations: UInt32, createKeys: Bool,
                        retried: Bool = false) async throws -> (Keyslot, SymmetricKey, [KeyBundle]) {
        let stored = await publication.fetchAll()
        if let newest = try Self.newest(of: stored, user: user) {
            let (kek, bundles) = try open(newest, stored: stored, passwords: passwords, kdfIterations: kdfIterations)
            await bringUpToDate(stored, with: newest)
            return (newest, kek, bundles)
        }
        guard createKeys else { throw ClientError.failed("user \(user) has no keyslot on the nodes") }
        return try await create(stored: stored, passwords: passwords, kdfIterations: kdfIterations, retried: retried)
    }

    /// The newest keyslot among the answers; two different ones at the same revision are refused.
    static func newest(of stored: [(node: Int, state: KeyslotState)], user: String) throws -> Keyslot? {
        var newest: Keyslot?
        for case let (_, .slot(slot)) in stored {
            guard let current = newest else {
                newest = slot
                continue
            }
            if slot.header.supersedes(current.header) {
                newest = slot
            } else if !current.header.supersedes(slot.header) && slot.bytes != current.bytes {
                throw ClientError.integrity("nodes hold two different keyslots of user \(user) at epoch \(slot.header.epoch) "
                                            + "revision \(slot.header.revision); refusing to guess which holds the keys")
            }
        }
        return newest
    }

    /// Unlocks `newest` with the first password that opens it.
    private func open(_ newest: Keyslot, stored: [(node: Int, state: KeyslotState)], passwords: [SecureBytes],
                      kdfIterations: UInt32) throws -> (SymmetricKey, [KeyBundle]) {
        guard newest.header.kdf.iterations <= Self.maximumKDFIterations else {
            throw ClientError.integrity("the keyslot of user \(user) asks for \(newest.header.kdf.iterations) PBKDF2 "
                                        + "iterations (more than \(Self.maximumKDFIterations)); refusing it")
        }
        for password in passwords {
            do {
                return try newest.unlock(user: user, password: password,
                                         minimumIterations: min(kdfIterations, KeyslotKDF.minimumIterations))
            } catch KeyslotError.wrongPassword {
                continue
            }
        }
        // An older keyslot that does open means a password change stopped half-way.
        let older = stored.compactMap { _, state -> Keyslot? in
            if case let .slot(slot) = state, newest.header.supersedes(slot.header) { return slot }
            return nil
        }
        for slot in older where slot.header.kdf.iterations <= Self.maximumKDFIterations {
            for password in passwords where (try? slot.unlock(user: user, password: password, minimumIterations: 1)) != nil {
                throw ClientError.authenticationFailed("this is the old password: a password change of user \(user) "
                                                       + "did not finish on every node; run edfs passwd again")
            }
        }
        throw ClientError.authenticationFailed("wrong password: the keyslot of user \(user) does not open")
    }

    /// Nodes that lack the newest keyslot (down during a password change or rotation) get it now.
    private func bringUpToDate(_ stored: [(node: Int, state: KeyslotState)], with newest: Keyslot) async {
        let lacking = stored.compactMap { node, state -> Int? in
            switch state {
            case let .slot(slot): return newest.header.supersedes(slot.header) ? node : nil
            case .absent: return node
            case .failed: return nil
            }
        }
        guard !lacking.isEmpty else { return }
        for (node, error) in await publication.store(newest, on: lacking).failures {
            notices.add("node \(links[node]?.nodeName ?? "\(node + 1)"): could not update the keyslot: \(error)")
        }
    }

    /// New keys for a user that no node knows. Made only when every node of the config answered that it has no
    /// keyslot: keys made while the node that holds the real keyslot is down would split the user's data in two.
    private func create(stored: [(node: Int, state: KeyslotState)], passwords: [SecureBytes], kdfIterations: UInt32,
                        retried: Bool) async throws -> (Keyslot, SymmetricKey, [KeyBundle]) {
        let failures = stored.compactMap { node, state -> String? in
            if case let .failed(reason) = state { return "node \(node + 1): \(reason)" }
            return nil
        }
        guard links.allSatisfy({ $0 != nil }), failures.isEmpty else {
            throw ClientError.notEnoughNodes("no keyslot of user \(user) could be read and not every node answered "
                                             + "(\(failures.isEmpty ? "some are unreachable" : failures.joined(separator: "; "))); "
                                             + "not creating new keys until every node is reachable")
        }
        // Manifests without any keyslot mean the keyslots were lost, not that the user is new: new keys would
        // make that data unreadable. `edfs key import` restores an exported key bundle instead.
        let listed = await NodeFanOut(links: links).run { _, link in try await link.listManifests().count }
        if let (node, error) = listed.failures.first {
            throw ClientError.notEnoughNodes("node \(links[node]?.nodeName ?? "\(node + 1)") could not list its manifests "
                                             + "(\(error)); not creating new keys")
        }
        guard listed.values.reduce(0, { $0 + $1.value }) == 0 else {
            throw ClientError.failed("user \(user) has stored files but no keyslot on any node; restore the keys with "
                                     + "edfs key import FILE instead of creating new ones")
        }
        guard let password = passwords.first else { throw ClientError.usage("no password") }
        let kdf = try KeyslotKDF.generate(iterations: kdfIterations)
        let kek = try kdf.deriveKEK(password: password)
        let bundle = try KeyBundle.generate(epoch: 1)
        let slot = try Keyslot.seal(user: user, kek: kek, kdf: kdf, revision: 1, bundles: [bundle])
        let results = await publication.store(slot)
        if let (node, error) = results.failures.first {
            if case NodeLinkError.stale = error, !retried {
                // Another client created the keys first: use theirs (once; a second conflict is an error).
                return try await unlockOrCreate(passwords: passwords, kdfIterations: kdfIterations, createKeys: true,
                                                retried: true)
            }
            throw ClientError.notEnoughNodes("node \(links[node]?.nodeName ?? "\(node + 1)") did not store the new keyslot "
                                             + "(\(error)); run the command again")
        }
        notices.add("created the key bundle and keyslot of user \(user) (epoch 1)")
        return (slot, kek, [bundle])
    }
}
