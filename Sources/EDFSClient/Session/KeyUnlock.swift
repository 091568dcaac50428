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

    /// The keyslot, the KEK that opened it and its bundles. `derivations` (one per password) are tried in order (a
    /// resumed password change knows two); new keys are made only for a user with no keyslot and no file on any node
    /// of the config. Every KEK comes from a derivation's SaltedPassword, so a keyslot linked to the SCRAM verifier
    /// the logins used costs no PBKDF2 of its own.
    func unlockOrCreate(derivations: [PasswordDerivation], kdfIterations: UInt32, createKeys: Bool,
                        retried: Bool = false) async throws -> (Keyslot, SymmetricKey, [KeyBundle]) {
        let stored = await publication.fetchAll()
        let candidates = Self.candidates(stored)
        if !candidates.isEmpty {
            do {
                let (slot, kek, bundles) = try await open(candidates, derivations: derivations, kdfIterations: kdfIterations)
                await bringUpToDate(stored, with: slot)
                return (slot, kek, bundles)
            } catch let failure as ClientError {
                guard case .authenticationFailed = failure,
                      let earlier = try await openFromHistory(skipping: candidates, derivations: derivations,
                                                              kdfIterations: kdfIterations) else { throw failure }
                return earlier
            }
        }
        guard createKeys else { throw ClientError.failed("user \(user) has no keys on the nodes") }
        return try await create(stored: stored, derivations: derivations, kdfIterations: kdfIterations, retried: retried)
    }

    /// One distinct keyslot the nodes returned, and the nodes that hold exactly it.
    struct Candidate {
        var slot: Keyslot
        var holders: [Int]
    }

    /// The distinct keyslots among the answers, newest first (revision, then epoch, then bytes: every client orders
    /// them alike).
    static func candidates(_ stored: [(node: Int, state: KeyslotState)]) -> [Candidate] {
        candidates(stored.compactMap { node, state in
            if case let .slot(slot) = state { return (node, slot) }
            return nil
        })
    }

    /// The distinct keyslots among `slots` (each with the node that holds it), newest first.
    static func candidates(_ slots: [(node: Int, slot: Keyslot)]) -> [Candidate] {
        var byBytes = [[UInt8]: Candidate]()
        for (node, slot) in slots {
            if byBytes[slot.bytes]?.holders.contains(node) == true { continue }
            byBytes[slot.bytes, default: Candidate(slot: slot, holders: [])].holders.append(node)
        }
        return byBytes.values.sorted { a, b in
            let (x, y) = (a.slot.header, b.slot.header)
            if (x.revision, x.epoch) != (y.revision, y.epoch) { return (x.revision, x.epoch) > (y.revision, y.epoch) }
            return b.slot.bytes.lexicographicallyPrecedes(a.slot.bytes)
        }
    }

    /// The newest keyslot that opens with one of `passwords`. A keyslot that does not open — damaged, another user's,
    /// or forged by a node — is skipped with a notice naming its nodes; it is never taken for "the old password".
    func open(_ candidates: [Candidate], derivations: [PasswordDerivation],
                      kdfIterations: UInt32) async throws -> (Keyslot, SymmetricKey, [KeyBundle]) {
        var skipped = [(candidate: Candidate, reason: String)]()
        var chosen: (candidate: Candidate, kek: SymmetricKey, bundles: [KeyBundle])?
        // Keyslots far costlier than this client's own work factor are tried last, only if nothing cheaper opens:
        // a node cannot make every command spend a minute in PBKDF2 before it reaches the real keyslot.
        let costly = max(kdfIterations, PBKDF2.defaultIterations).multipliedReportingOverflow(by: 4)
        let threshold = costly.overflow ? UInt32.max : costly.partialValue
        let ordered = candidates.filter { $0.slot.header.kdf.iterations <= threshold }
            + candidates.filter { $0.slot.header.kdf.iterations > threshold }
        for candidate in ordered {
            let header = candidate.slot.header
            if let found = chosen {
                // Only a keyslot of the same revision and epoch can rival the chosen one; older ones are history,
                // and a newer costly one is reported, not tried.
                if header.kdf.iterations > threshold,
                   (header.revision, header.epoch) > (found.candidate.slot.header.revision, found.candidate.slot.header.epoch) {
                    skipped.append((candidate, "was not tried: it asks for \(header.kdf.iterations) PBKDF2 iterations, more "
                                    + "than 4 times this client's \(max(kdfIterations, PBKDF2.defaultIterations))"))
                    continue
                }
                guard (header.revision, header.epoch) == (found.candidate.slot.header.revision,
                                                          found.candidate.slot.header.epoch) else { continue }
            }
            guard header.kdf.iterations <= Self.maximumKDFIterations else {
                skipped.append((candidate, "asks for \(header.kdf.iterations) PBKDF2 iterations (more than "
                                + "\(Self.maximumKDFIterations))"))
                continue
            }
            guard header.kdf.iterations >= min(kdfIterations, KeyslotKDF.minimumIterations) else {
                skipped.append((candidate, "asks for only \(header.kdf.iterations) PBKDF2 iterations"))
                continue
            }
            var opened: (SymmetricKey, [KeyBundle])?
            var derivable = true
            for derivation in derivations where opened == nil {
                // A derivation refuses a third distinct (salt, iterations) in one command: a node that returns keyslots
                // with made-up salts cannot make it run PBKDF2 again and again.
                guard let salted = try? await derivation.saltedPassword(salt: header.kdf.salt,
                                                                         iterations: header.kdf.iterations) else {
                    derivable = false
                    continue
                }
                let kek = try header.kdf.deriveKEK(saltedPassword: salted)
                if let bundles = try? candidate.slot.unlock(user: user, kek: kek) { opened = (kek, bundles) }
            }
            guard let (kek, bundles) = opened else {
                if chosen == nil {
                    skipped.append((candidate, derivable ? "does not open" : "was not tried (too many different key derivations)"))
                }
                continue
            }
            if let found = chosen {
                guard Self.sameKeys(found.bundles, bundles) else {
                    throw ClientError.integrity("nodes hold two different sets of keys of user \(user) that both open with this password "
                                                + "(key generation \(header.epoch), revision \(header.revision)); "
                                                + "refusing to guess which one the files need")
                }
            } else {
                chosen = (candidate, kek, bundles)
            }
        }
        guard let chosen else {
            let detail = skipped.map { "\(names($0.candidate.holders)): revision \($0.candidate.slot.header.revision) "
                                       + $0.reason }.joined(separator: "; ")
            throw ClientError.authenticationFailed("wrong password: none of user \(user)'s stored keys open with it"
                                                   + (candidates.count > 1 ? " (\(detail))" : "")
                                                   + "; if the password is right, see edfs key restore --list")
        }
        for (candidate, reason) in skipped where candidate.slot.header.revision >= chosen.candidate.slot.header.revision {
            notices.add("node \(names(candidate.holders)) holds locked keys of \(user) that \(reason) (revision "
                        + "\(candidate.slot.header.revision)); ignored: the newest that open are revision "
                        + "\(chosen.candidate.slot.header.revision)")
        }
        return (chosen.candidate.slot, chosen.kek, chosen.bundles)
    }

    /// When no current keyslot opens: the newest keyslot of the nodes' histories (what they accepted before) that
    /// does, so that someone who replaced every current keyslot — with a node's MD5 line, say — cannot lock the user
    /// out. Nothing is written; the notice names `edfs key restore`, which puts it back. Nil when none opens.
    private func openFromHistory(skipping current: [Candidate], derivations: [PasswordDerivation],
                                 kdfIterations: UInt32) async throws -> (Keyslot, SymmetricKey, [KeyBundle])? {
        let histories = await NodeFanOut(links: links).run { _, link in try await link.keyslotHistory() }
        let seen = Set(current.map(\.slot.bytes))
        var slots = [(node: Int, slot: Keyslot)]()
        for (node, entries) in histories.values {
            for bytes in entries where !seen.contains(bytes) {
                if let slot = try? Keyslot.decode(bytes) { slots.append((node, slot)) }
            }
        }
        let earlier = Self.candidates(slots)
        guard !earlier.isEmpty, let opened = try? await open(earlier, derivations: derivations, kdfIterations: kdfIterations)
        else { return nil }
        notices.add("the current locked keys of \(user) do not open with this password, an earlier copy from the nodes' history "
                    + "does (revision \(opened.0.header.revision)): if you did not change the password, someone who can "
                    + "log in as you replaced it; run edfs key restore")
        return opened
    }

    /// True when both lists hold the same keys (compared in constant time).
    private static func sameKeys(_ a: [KeyBundle], _ b: [KeyBundle]) -> Bool {
        a.count == b.count && zip(a, b).allSatisfy { x, y in
            x.epoch == y.epoch && x.masterKey.bytes.constantTimeEquals(y.masterKey.bytes)
                && x.nameKey.bytes.constantTimeEquals(y.nameKey.bytes)
        }
    }

    private func names(_ nodes: [Int]) -> String { nodes.map(nodeName).joined(separator: ",") }

    private func nodeName(_ index: Int) -> String { links[index]?.nodeName ?? "\(index + 1)" }

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
            notices.add("node \(links[node]?.nodeName ?? "\(node + 1)"): could not update the locked keys: \(error)")
        }
    }

    /// New keys for a user that no node knows. Made only when every node of the config answered that it has no
    /// keyslot: keys made while the node that holds the real keyslot is down would split the user's data in two.
    private func create(stored: [(node: Int, state: KeyslotState)], derivations: [PasswordDerivation], kdfIterations: UInt32,
                        retried: Bool) async throws -> (Keyslot, SymmetricKey, [KeyBundle]) {
        let failures = stored.compactMap { node, state -> String? in
            if case let .failed(reason) = state { return "node \(node + 1): \(reason)" }
            return nil
        }
        guard links.allSatisfy({ $0 != nil }), failures.isEmpty else {
            throw ClientError.notEnoughNodes("no keys of user \(user) could be read and not every node answered "
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
            throw ClientError.failed("user \(user) has stored files but no keys on any node; restore the keys with "
                                     + "edfs key import FILE instead of creating new ones")
        }
        guard let derivation = derivations.first else { throw ClientError.usage("no password") }
        let kdf = try Self.newKDF(linkedTo: links, kdfIterations: kdfIterations)
        let kek = try kdf.deriveKEK(saltedPassword: try await derivation.saltedPassword(salt: kdf.salt,
                                                                                          iterations: kdf.iterations))
        let bundle = try KeyBundle.generate(epoch: 1)
        let slot = try Keyslot.seal(user: user, kek: kek, kdf: kdf, revision: 1, bundles: [bundle])
        let results = await publication.store(slot)
        if let (node, error) = results.failures.first {
            if case NodeLinkError.stale = error, !retried {
                // Another client created the keys first: use theirs (once; a second conflict is an error).
                return try await unlockOrCreate(derivations: derivations, kdfIterations: kdfIterations, createKeys: true,
                                                retried: true)
            }
            throw ClientError.notEnoughNodes("node \(links[node]?.nodeName ?? "\(node + 1)") did not store the new locked keys "
                                             + "(\(error)); run the command again")
        }
        notices.add("created new encryption keys for user \(user), locked with this password")
        return (slot, kek, [bundle])
    }

    /// The KDF of a new keyslot: linked to the SCRAM verifier the first node's login proved (same salt and iterations,
    /// so the login's SaltedPassword opens it: one PBKDF2 per command), or PBKDF2 with a fresh salt for legacy logins.
    static func newKDF(linkedTo links: [(any NodeLink)?], kdfIterations: UInt32) throws -> KeyslotKDF {
        for case let link? in links {
            guard case let .scram(verifier)? = link.provenVerifier else { continue }
            if verifier.salt.count == KeyslotKDF.saltByteCount, verifier.iterations >= KeyslotKDF.minimumIterations {
                return try KeyslotKDF(kind: .scramLinked, iterations: verifier.iterations, salt: verifier.salt)
            }
            break
        }
        return try KeyslotKDF.generate(iterations: kdfIterations)
    }
}
