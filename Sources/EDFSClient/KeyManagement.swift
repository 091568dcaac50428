import EDFSCrypto
import EDFSFormat
import NIOCore
import Synchronization

/// The state of a user's keys, for `edfs key status`.
public struct KeyStatus: Sendable, Codable, Equatable {
    public var epoch: UInt32
    /// Every epoch the keyslot holds (two while a rotation is unfinished).
    public var epochs: [UInt32]
    public var revision: UInt64
    public var kdf: String
    public var iterations: UInt32
    public var rotationUnfinished: Bool
    public var reencrypting: Bool
}

/// What moving one file did.
enum RotationOutcome: Sendable {
    case rewrapped, reencrypted, alreadyDone, tombstoneDropped
}

/// What a key rotation did.
public struct RotationReport: Sendable, Equatable {
    public var epoch: UInt32 = 0
    /// True when it finished a rotation an earlier run had started.
    public var resumed = false
    /// Files whose manifest was re-sealed under the new master key (data untouched).
    public var rewrapped = 0
    /// Files given a new data key and file id, every object rewritten.
    public var reencrypted = 0
    /// Files an earlier, interrupted run (or a put during the rotation) had already moved.
    public var alreadyDone = 0
    /// Tombstones of the old epoch that were dropped.
    public var tombstonesDropped = 0

    mutating func count(_ outcome: RotationOutcome) {
        switch outcome {
        case .rewrapped: rewrapped += 1
        case .reencrypted: reencrypted += 1
        case .alreadyDone: alreadyDone += 1
        case .tombstoneDropped: tombstonesDropped += 1
        }
    }
}

extension ClusterSession {
    /// The keys as the keyslot describes them.
    public var keyStatus: KeyStatus {
        KeyStatus(epoch: keyslot.header.epoch, epochs: bundles.map(\.epoch), revision: keyslot.header.revision,
                  kdf: "PBKDF2-HMAC-SHA256", iterations: keyslot.header.kdf.iterations,
                  rotationUnfinished: bundles.count > 1, reencrypting: keyslot.header.reencrypting)
    }

    /// A node's failure as the CLI reports it: unreachable (69) when the node could not be talked to, else 1.
    static func nodeFailure(_ message: String, _ error: any Error) -> ClientError {
        switch error {
        case is NodeConnectionError, NodeLinkError.unreachable: return .notEnoughNodes(message)
        default: return .failed(message)
        }
    }

    /// Refuses, changing nothing, unless every node of the config is logged in.
    func requireEveryNode(_ what: String) throws {
        let missing = (0..<nodeCount).filter { links[$0] == nil }
        guard missing.isEmpty else {
            throw ClientError.notEnoughNodes("\(what) needs every node of the config; unreachable: "
                                             + missing.map(nodeName).joined(separator: ", ") + "; nothing was changed")
        }
    }

    /// Stores `slot` on every node, or throws naming the first node that refused.
    func storeKeyslotEverywhere(_ slot: Keyslot, resume: String) async throws {
        for link in links.compactMap({ $0 }) {
            do {
                try await withDeadline(Self.requestTimeout, link.nodeName) { try await link.putKeyslot(slot.bytes) }
            } catch {
                throw Self.nodeFailure("node \(link.nodeName) did not store the keyslot (\(error)); \(resume)", error)
            }
        }
    }

    // MARK: Password

    /// `edfs passwd`: a new keyslot (new salt, same key bundles) and a new login verifier on every node.
    /// Safe to run again after an interruption, with the same old and new passwords.
    /// `currentDigests`, by node, is the verifier each node accepted this session's login with: it is written back
    /// first as a probe, so a node that cannot change a verifier refuses before any keyslot changes.
    public func changePassword(to newPassword: SecureBytes, kdfIterations: UInt32,
                               currentDigests: [Int: [UInt8]] = [:]) async throws {
        try requireEveryNode("a password change")
        for (node, digest) in currentDigests.sorted(by: { $0.key < $1.key }) {
            guard let link = links[node] else { continue }
            do {
                try await withDeadline(Self.requestTimeout, link.nodeName) { try await link.setLoginVerifier(digest: digest) }
            } catch {
                throw Self.nodeFailure("node \(link.nodeName) cannot change a login verifier (\(error)); nothing was changed",
                                       error)
            }
        }
        let resume = "the change is incomplete: run edfs passwd again with the same old and new passwords"
        let kdf = try KeyslotKDF.generate(iterations: kdfIterations)
        let newKEK = try kdf.deriveKEK(password: newPassword)
        let slot = try Keyslot.seal(user: user, kek: newKEK, kdf: kdf, revision: keyslot.header.revision + 1,
                                    bundles: bundles, reencrypting: keyslot.header.reencrypting)
        try await storeKeyslotEverywhere(slot, resume: resume)
        let digest = newPassword.withUnsafeBytes { Digest.md5($0) }
        for link in links.compactMap({ $0 }) {
            do {
                try await withDeadline(Self.requestTimeout, link.nodeName) { try await link.setLoginVerifier(digest: digest) }
            } catch {
                throw Self.nodeFailure("node \(link.nodeName) did not take the new password (\(error)); \(resume)", error)
            }
        }
    }

    // MARK: Rotation

    /// `edfs key rotate`: a new key epoch. Every manifest is re-sealed under the new master key and stored under its
    /// new id; with `reencrypt`, every file also gets a new data key and file id and all its objects are rewritten.
    /// Interrupted at any point, running it again finishes it. `onFile` is told each file done.
    public func rotateKeys(reencrypt: Bool, onFile: (@Sendable (String) -> Void)? = nil) async throws -> RotationReport {
        try requireEveryNode("a key rotation")
        var report = RotationReport()
        var session = self
        if bundles.count == 1 {
            let old = bundles[0]
            let (epoch, overflow) = old.epoch.addingReportingOverflow(1)
            guard !overflow else { throw ClientError.failed("key epochs are exhausted") }
            let slot = try Keyslot.seal(user: user, kek: kek, kdf: keyslot.header.kdf, revision: keyslot.header.revision + 1,
                                        bundles: [try .generate(epoch: epoch), old], reencrypting: reencrypt)
            try await storeKeyslotEverywhere(slot, resume: "run edfs key rotate again")
            session = try reopened(with: slot)
        } else {
            report.resumed = true
            if reencrypt && !keyslot.header.reencrypting {
                // Widen an unfinished rewrap into a re-encryption.
                let slot = try Keyslot.seal(user: user, kek: kek, kdf: keyslot.header.kdf,
                                            revision: keyslot.header.revision + 1, bundles: bundles, reencrypting: true)
                try await storeKeyslotEverywhere(slot, resume: "run edfs key rotate again")
                session = try reopened(with: slot)
            }
        }
        let target = session.bundles[0]
        let reencrypting = session.keyslot.header.reencrypting
        report.epoch = target.epoch
        var blocking = [String]()
        // Passes until one finds nothing left (a client that opened its session before the rotation may still
        // write at the old epoch; such a file is moved by the next pass).
        for pass in 1...4 {
            let inventory = await session.takeInventory()
            guard inventory.failedNodes.isEmpty else {
                throw ClientError.notEnoughNodes("a node stopped answering; run edfs key rotate again to finish")
            }
            let (records, _) = await session.newestManifests(holders: inventory.manifestHolders)
            // Ids no copy of which opens: only an old-epoch one blocks dropping the old keys (it may be a real file
            // whose copies are unreadable right now); anything else is noise a node made up, and is reported.
            blocking = []
            for (id, nodes) in inventory.manifestHolders where records[id] == nil {
                if await session.holdsOldEpochManifest(id: id, nodes: nodes, target: target) {
                    blocking.append(id)
                } else {
                    session.notices.add("manifest \(id) opens with no key epoch; ignored")
                }
            }
            let pending = records.values.filter { session.needsRotation($0, to: target, reencrypt: reencrypting) }
                .sorted { $0.body.name < $1.body.name }
            if pending.isEmpty { break }
            if pass == 4 { throw ClientError.failed("files keep appearing at the old key epoch; run edfs key rotate again") }
            // Different names move concurrently (a few at a time); the copies of one name in order.
            let byName = Dictionary(grouping: pending, by: { $0.body.name }).values.map { $0.sorted { $0.header.keyEpoch < $1.header.keyEpoch } }
            let rotating = session
            try await withThrowingTaskGroup(of: [RotationOutcome].self) { group in
                var started = 0
                func collect(_ outcomes: [RotationOutcome]) {
                    for outcome in outcomes { report.count(outcome) }
                }
                for records in byName {
                    if started >= (reencrypting ? 2 : Self.concurrentRotations), let done = try await group.next() { collect(done) }
                    started += 1
                    group.addTask {
                        var outcomes = [RotationOutcome]()
                        for record in records {
                            outcomes.append(try await rotating.rotate(record, to: target, reencrypt: reencrypting))
                            if !record.body.isDeleted { onFile?(record.body.name) }
                        }
                        return outcomes
                    }
                }
                for try await done in group { collect(done) }
            }
        }
        guard blocking.isEmpty else {
            throw ClientError.integrity("\(blocking.count) manifest(s) at the old key epoch cannot be opened right now; "
                                        + "the old keys are kept: run edfs key rotate again")
        }
        let finished = try Keyslot.seal(user: user, kek: kek, kdf: session.keyslot.header.kdf,
                                        revision: session.keyslot.header.revision + 1, bundles: [target])
        try await session.storeKeyslotEverywhere(finished, resume: "run edfs key rotate again")
        return report
    }

    /// The file id a re-encryption gives the version with `fileID` (HMAC under the target master key), so a run
    /// interrupted before its commit rewrites the same objects, and anyone superseding that version can remove them.
    static func reencryptionFileID(for fileID: FileID, target: KeyBundle) throws -> FileID {
        let mac = Digest.hmacSHA256(key: target.masterKey, Array("edfs-reencrypt-v1".utf8) + fileID.bytes)
        return try FileID(bytes: Array(mac[0..<FileID.byteCount]))
    }

    /// True when some copy of manifest `id` carries an older key epoch than `target` in its (cleartext) header.
    func holdsOldEpochManifest(id: String, nodes: [Int], target: KeyBundle) async -> Bool {
        for node in nodes {
            guard let link = links[node],
                  let bytes = try? await withDeadline(Self.requestTimeout, link.nodeName, { try await link.getManifest(id) }),
                  let header = try? ManifestHeader.decode(prefixOf: bytes), header.manifestID.hex == id else { continue }
            if header.keyEpoch < target.epoch && bundle(epoch: header.keyEpoch) != nil { return true }
        }
        return false
    }

    /// The same links with another keyslot's bundles.
    private func reopened(with slot: Keyslot) throws -> ClusterSession {
        ClusterSession(config: config, user: user, links: links, unreachable: unreachable,
                       bundles: try slot.unlock(user: user, kek: kek), keyslot: slot, kek: kek, notices: notices)
    }

    func needsRotation(_ record: ManifestRecord, to target: KeyBundle, reencrypt: Bool) -> Bool {
        if record.header.keyEpoch != target.epoch { return true }
        return reencrypt && !record.body.isDeleted && record.body.dataKeyEpoch != target.epoch
    }

    /// Moves one file to the target epoch; idempotent, so an interrupted run can simply do it again.
    /// Files re-wrapped at once (metadata only: enough to hide per-request latency); a re-encryption moves two at a
    /// time, since each streams its stripes with their buffers.
    static let concurrentRotations = 8

    private func rotate(_ stale: ManifestRecord, to target: KeyBundle, reencrypt: Bool) async throws -> RotationOutcome {
        let name = stale.body.name
        // Work from what the nodes hold now, not from the inventory: a put or rm may have come in between.
        let lookup = try await lookUp(path: name)
        guard lookup.unsettledNodes.isEmpty else {
            throw ClientError.notEnoughNodes("not every node answered for \(name); run edfs key rotate again to finish")
        }
        guard let record = lookup.newest else {
            // Removed meanwhile: only what an interrupted re-encryption of the listed version may have left.
            await removeReencryptionLeftovers(of: stale, target: target, keeping: nil)
            return .alreadyDone
        }
        if !needsRotation(record, to: target, reencrypt: reencrypt) {
            // Done before (the run was interrupted after a commit) or superseded by a put. Make sure the newest
            // manifest is on every node (a commit interrupted half-way), then drop what is left of older copies.
            let lacking = (0..<nodeCount).filter { !record.holders.contains($0) }
            if !lacking.isEmpty {
                let (accepted, _) = try await commitManifest(id: record.id, bytes: record.bytes)
                guard Set(accepted).union(record.holders).count == nodeCount else {
                    throw ClientError.notEnoughNodes("the manifest of \(name) is not on every node; run edfs key rotate again")
                }
            }
            if stale.header.fileID != record.header.fileID && !stale.body.isDeleted {
                await removeObjects(of: stale, includingReencryptionTarget: false)
            }
            await removeReencryptionLeftovers(of: stale, target: target, keeping: record.header.fileID)
            await removeSupersededManifests(lookup, keeping: record.header.manifestID)
            return .alreadyDone
        }
        if record.body.isDeleted {
            // An old-epoch tombstone guards an id that no reader uses after the rotation.
            for copy in lookup.copies where copy.id == record.header.manifestID {
                guard let link = links[copy.node] else { continue }
                try? await link.deleteManifest(copy.id.hex, maxVersion: copy.version)
            }
            return .tombstoneDropped
        }
        var body = record.body
        var fileID = record.header.fileID
        let reencrypting = reencrypt && body.dataKeyEpoch != target.epoch
        if reencrypting {
            // File id and data key both derived from the old file id under the new master key: a run interrupted
            // before its commit, or a second run at the same time, writes byte-identical objects (the same key and
            // nonce only ever seal the same verified plaintext), so nothing is orphaned or mixed.
            fileID = try Self.reencryptionFileID(for: record.header.fileID, target: target)
            do {
                body = try await reencryptObjects(of: record, into: fileID, epoch: target.epoch,
                                                  dataKey: Self.reencryptionDataKey(for: record.header.fileID, target: target))
            } catch {
                // If the file changed under us, the objects written so far will never be committed.
                if let now = try? await lookUp(path: name), now.newest?.bytes != record.bytes {
                    await removeReencryptionLeftovers(of: record, target: target, keeping: now.newest?.header.fileID)
                }
                throw error
            }
        }
        body.dataKeyEpoch = reencrypting ? target.epoch : body.dataKeyEpoch
        // Re-read just before the commit, as a put does: a writer that came in meanwhile wins.
        let current = try await lookUp(path: name)
        guard current.highestVersion == lookup.highestVersion, current.newest?.bytes == record.bytes else {
            if reencrypting { await removeReencryptionLeftovers(of: record, target: target, keeping: current.newest?.header.fileID) }
            throw ClientError.failed("\(name) changed during the rotation; run edfs key rotate again to finish")
        }
        let id = ManifestID.derive(path: name, nameKey: target.nameKey)
        let manifest = try Manifest.seal(manifestID: id, version: try current.nextVersion(), fileID: fileID,
                                         keyEpoch: target.epoch, body: body, masterKey: target.masterKey)
        let (accepted, _) = try await commitManifest(id: id, bytes: manifest)
        guard accepted.count == nodeCount else {
            throw ClientError.notEnoughNodes("the new manifest of \(name) reached \(accepted.count) of \(nodeCount) nodes; "
                                             + "run edfs key rotate again to finish")
        }
        await removeSupersededManifests(current, keeping: id)
        if reencrypting {
            await removeObjects(of: record, includingReencryptionTarget: false)  // the target is the new version
            return .reencrypted
        }
        return .rewrapped
    }

    /// Removes the objects a re-encryption of `record` would have written, unless they are `keeping`'s.
    private func removeReencryptionLeftovers(of record: ManifestRecord, target: KeyBundle, keeping: FileID?) async {
        guard !record.body.isDeleted, let derived = try? Self.reencryptionFileID(for: record.header.fileID, target: target),
              derived != keeping, let placement = try? record.placement() else { return }
        await removeObjects(fileID: derived, placement: placement, row: placement.row(for: derived))
    }

    /// The data key of a re-encryption of the version with `fileID` (HMAC under the target master key).
    static func reencryptionDataKey(for fileID: FileID, target: KeyBundle) throws -> SymmetricKey {
        var mac = Digest.hmacSHA256(key: target.masterKey, Array("edfs-reencrypt-dek-v1".utf8) + fileID.bytes)
        defer { secureWipe(&mac) }
        return try SymmetricKey(copying: mac)
    }

    /// Streams every stripe of `record` from a good replica, opens it, seals it again under a fresh data key and
    /// writes it as the objects of `fileID` on all R nodes of the new placement. Returns the new body.
    private func reencryptObjects(of record: ManifestRecord, into fileID: FileID, epoch: UInt32,
                                  dataKey: SymmetricKey) async throws -> ManifestBody {
        guard Int(record.body.nodeCount) == nodeCount else {
            throw ClientError.usage("\(record.body.name) was stored on \(record.body.nodeCount) nodes; the config lists \(nodeCount)")
        }
        let placement = try record.placement()
        let row = placement.row(for: fileID)
        try await withThrowingTaskGroup(of: Void.self) { group in
            for stripe in 0..<placement.stripeCount {
                if stripe >= Self.concurrentStripes { try await group.next() }
                let old = try record.stripeHeader(stripe)
                let header = try StripeHeader(fileID: fileID, stripeIndex: old.stripeIndex, stripeCount: old.stripeCount,
                                              segmentSize: old.segmentSize, plaintextLength: old.plaintextLength)
                let targets = try placement.nodes(stripe: stripe, row: row)
                group.addTask {
                    try await self.reencryptStripe(record, stripe: stripe, into: header, targets: targets, dataKey: dataKey)
                }
            }
            try await group.waitForAll()
        }
        var body = record.body
        body.dataKey = dataKey
        body.dataKeyEpoch = epoch
        body.missingReplicas = []
        return body
    }

    private func reencryptStripe(_ record: ManifestRecord, stripe: Int, into header: StripeHeader, targets: [Int],
                                 dataKey: SymmetricKey) async throws {
        let work = try StripeSealWork(header: header, dataKey: dataKey,
                                      batchBytes: Self.segmentsPerBatch(segmentSize: Int(header.segmentSize))
                                          * Int(header.segmentSize))
        var started = [(node: Int, upload: any ObjectUpload)]()
        for node in targets {
            guard let link = links[node] else { continue }
            started.append((node, try await link.beginPut(object: header.objectName, length: header.objectLength)))
        }
        let uploads = ReencryptUploads(started)
        do {
            try await uploads.send(ByteBuffer(bytes: work.sealer.headerBytes), via: self, stripe: header.stripeIndex, need: targets.count)
            try await fetchStripe(record, stripe: stripe, consume: { plaintext, _ in
                uploads.stash(try work.seal(plaintext))
            }, afterBatch: { _ in
                try await uploads.send(uploads.takeStash(), via: self, stripe: header.stripeIndex, need: targets.count)
            })
            for (node, upload) in uploads.current {
                do {
                    try await withDeadline(Self.requestTimeout, nodeName(node)) { try await upload.finish() }
                } catch {
                    throw ClientError.failed("node \(nodeName(node)) did not store stripe \(header.stripeIndex): \(error); "
                                             + "run edfs key rotate again")
                }
            }
        } catch {
            for (_, upload) in uploads.current { await upload.cancel() }
            throw error
        }
    }
}

/// The uploads of one re-encrypted stripe and the batch sealed between the blocking job and the send.
/// `@unchecked Sendable`-free: state is behind a `Mutex`.
final class ReencryptUploads: Sendable {
    private struct State {
        var uploads: [(node: Int, upload: any ObjectUpload)]
        var stash: ByteBuffer?
    }
    private let state: Mutex<State>

    init(_ uploads: [(node: Int, upload: any ObjectUpload)]) { state = Mutex(State(uploads: uploads, stash: nil)) }

    var current: [(node: Int, upload: any ObjectUpload)] { state.withLock { $0.uploads } }
    func stash(_ buffer: ByteBuffer) { state.withLock { $0.stash = buffer } }
    func takeStash() -> ByteBuffer {
        state.withLock { s in
            defer { s.stash = nil }
            return s.stash ?? ByteBuffer()
        }
    }

    /// Sends to every upload; every replica must take it (a rotation runs with every node up).
    func send(_ chunk: ByteBuffer, via session: ClusterSession, stripe: UInt32, need: Int) async throws {
        let kept = await session.send(chunk, to: current, stripe: stripe)
        state.withLock { $0.uploads = kept }
        guard kept.count >= need else {
            throw ClientError.failed("stripe \(stripe) lost a replica while being re-encrypted; run edfs key rotate again")
        }
    }
}

// MARK: Export and import

extension ClusterSession {
    /// The key bundle(s) as a keyslot file under a separate passphrase (`edfs key export`).
    public func exportKeys(passphrase: SecureBytes, kdfIterations: UInt32) throws -> [UInt8] {
        let kdf = try KeyslotKDF.generate(iterations: kdfIterations)
        let exportKEK = try kdf.deriveKEK(password: passphrase)
        return try Keyslot.seal(user: user, kek: exportKEK, kdf: kdf, revision: keyslot.header.revision, bundles: bundles,
                                reencrypting: keyslot.header.reencrypting).bytes
    }

    /// `edfs key import`: opens an exported key file with its passphrase and stores it on every node as the user's
    /// keyslot under `password`, superseding whatever keyslot the nodes hold (none, after they were lost).
    public static func importKeys(links: ClusterLinks, user: String, exported: [UInt8], passphrase: SecureBytes,
                                  password: SecureBytes, kdfIterations: UInt32) async throws -> KeyStatus {
        let file: Keyslot
        do { file = try Keyslot.decode(exported) } catch {
            throw ClientError.integrity("not an edfs key file: \(error)")
        }
        guard file.header.kdf.iterations <= maximumKDFIterations else { throw ClientError.integrity("key file asks for too many iterations") }
        let bundles: [KeyBundle]
        do {
            bundles = try file.unlock(user: user, password: passphrase, minimumIterations: 1).bundles
        } catch KeyslotError.wrongPassword {
            throw ClientError.authenticationFailed("wrong passphrase for the key file (or it belongs to another user)")
        }
        let missing = (0..<links.links.count).filter { links.links[$0] == nil }
        guard missing.isEmpty else {
            throw ClientError.notEnoughNodes("a key import needs every node of the config; unreachable: "
                                             + missing.map { links.config.servers[$0].name }.joined(separator: ", "))
        }
        var revision = file.header.revision
        for (_, state) in await fetchKeyslots(links: links.links) {
            guard case let .slot(slot) = state else { continue }
            if slot.header.epoch > bundles[0].epoch {
                throw ClientError.failed("the nodes hold a keyslot of a newer key epoch (\(slot.header.epoch)) than the "
                                         + "key file (\(bundles[0].epoch)); not replacing it")
            }
            revision = max(revision, slot.header.revision)
        }
        // The keys must be the ones the stored files were sealed with: importing another user's or another cluster's
        // key file over the real keyslot would make everything unreadable.
        if let link = links.links.compactMap({ $0 }).first {
            let ids = try await withDeadline(requestTimeout, link.nodeName) { try await link.listManifests() }
            var checked = 0
            var opened = 0
            for id in ids.keys.sorted().prefix(16) {
                guard let bytes = try? await link.getManifest(id), let header = try? ManifestHeader.decode(prefixOf: bytes),
                      let bundle = bundles.first(where: { $0.epoch == header.keyEpoch }) else { checked += 1; continue }
                checked += 1
                if (try? Manifest.open(bytes, masterKey: bundle.masterKey)) != nil { opened += 1 }
            }
            guard checked == 0 || opened > 0 else {
                throw ClientError.integrity("the key file opens none of the \(checked) stored manifests checked on "
                                            + "\(link.nodeName): it is not this user's key; nothing was changed")
            }
        }
        let kdf = try KeyslotKDF.generate(iterations: kdfIterations)
        let kek = try kdf.deriveKEK(password: password)
        let slot = try Keyslot.seal(user: user, kek: kek, kdf: kdf, revision: revision + 1, bundles: bundles,
                                    reencrypting: file.header.reencrypting)
        for link in links.links.compactMap({ $0 }) {
            do {
                try await withDeadline(requestTimeout, link.nodeName) { try await link.putKeyslot(slot.bytes) }
            } catch {
                throw ClientError.failed("node \(link.nodeName) did not store the imported keyslot: \(error); run the import again")
            }
        }
        return KeyStatus(epoch: slot.header.epoch, epochs: bundles.map(\.epoch), revision: slot.header.revision,
                         kdf: "PBKDF2-HMAC-SHA256", iterations: kdfIterations, rotationUnfinished: bundles.count > 1,
                         reencrypting: slot.header.reencrypting)
    }
}
