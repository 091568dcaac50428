import EDFSCrypto
import EDFSFormat
import NIOCore

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

/// `edfs key rotate`: a new key epoch. Every manifest is re-sealed under the new master key and stored under its
/// new id; with `reencrypt`, every file also gets a new data key and file id and all its objects are rewritten.
/// Interrupted at any point, running it again finishes it.
public struct KeyRotation: Sendable {
    public let session: ClusterSession

    public init(_ session: ClusterSession) { self.session = session }

    /// Files re-wrapped at once (metadata only: enough to hide per-request latency); a re-encryption moves two at a
    /// time, since each streams its stripes with their buffers.
    static let concurrentRotations = 8

    /// Rotates (or finishes an unfinished rotation); `onFile` is told each file done. `progress` counts the files
    /// each pass moves and, when re-encrypting, their plaintext bytes.
    public func run(reencrypt: Bool, progress: TransferProgress? = nil,
                    onFile: (@Sendable (String) -> Void)? = nil) async throws -> RotationReport {
        let (bundles, keyslot, kek, user) = (session.bundles, session.keyslot, session.kek, session.user)
        try session.requireEveryNode("a key rotation")
        var report = RotationReport()
        var session = self.session
        if bundles.count == 1 {
            let old = bundles[0]
            let (epoch, overflow) = old.epoch.addingReportingOverflow(1)
            guard !overflow else { throw ClientError.failed("key generations are exhausted") }
            let slot = try Keyslot.seal(user: user, kek: kek, kdf: keyslot.header.kdf, revision: keyslot.header.revision + 1,
                                        bundles: [try .generate(epoch: epoch), old], reencrypting: reencrypt)
            try await KeyslotPublication(links: session.links).storeEverywhere(slot, resume: "run edfs key rotate again")
            session = try session.reopened(with: slot)
        } else {
            report.resumed = true
            if reencrypt && !keyslot.header.reencrypting {
                // Widen an unfinished rewrap into a re-encryption.
                let slot = try Keyslot.seal(user: user, kek: kek, kdf: keyslot.header.kdf,
                                            revision: keyslot.header.revision + 1, bundles: bundles, reencrypting: true)
                try await KeyslotPublication(links: session.links).storeEverywhere(slot, resume: "run edfs key rotate again")
                session = try session.reopened(with: slot)
            }
        }
        let target = session.bundles[0]
        let reencrypting = session.keyslot.header.reencrypting
        report.epoch = target.epoch
        var blocking = [String]()
        // Passes until one finds nothing left (a client that opened its session before the rotation may still
        // write at the old epoch; such a file is moved by the next pass).
        for pass in 1...4 {
            let inventory = await ClusterInventory.take(session)
            guard inventory.failedNodes.isEmpty else {
                throw ClientError.notEnoughNodes("a node stopped answering; run edfs key rotate again to finish")
            }
            let (records, _, _) = await inventory.newestManifests(session)
            // Ids no copy of which opens: only an old-epoch one blocks dropping the old keys (it may be a real file
            // whose copies are unreadable right now); anything else is noise a node made up, and is reported.
            blocking = []
            for (id, nodes) in inventory.manifestHolders where records[id] == nil {
                if await Self.holdsOldEpochManifest(session, id: id, nodes: nodes, target: target) {
                    blocking.append(id)
                } else {
                    session.notices.add("manifest \(id) opens with no key generation; ignored")
                }
            }
            let pending = records.values.filter { RotationStep.needsRotation($0, to: target, reencrypt: reencrypting) }
                .sorted { $0.body.name < $1.body.name }
            if pending.isEmpty { break }
            if pass == 4 { throw ClientError.failed("files keep appearing under the old keys; run edfs key rotate again") }
            // Different names move concurrently (a few at a time); the copies of one name in order.
            let byName = Dictionary(grouping: pending, by: { $0.body.name }).values.map { $0.sorted { $0.header.keyEpoch < $1.header.keyEpoch } }
            let files = pending.filter { !$0.body.isDeleted }
            progress?.addTotal(files: files.count, bytes: reencrypting ? files.filter {
                $0.body.hasObjects && $0.body.dataKeyEpoch != target.epoch
            }.reduce(UInt64(0)) { $0 &+ $1.body.size } : 0)
            let step = RotationStep(session: session, target: target, reencrypt: reencrypting, progress: progress)
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
                            let name = record.body.name
                            if !record.body.isDeleted { progress?.begin(name) }
                            outcomes.append(try await step.rotate(record))
                            if !record.body.isDeleted {
                                progress?.end(name)
                                onFile?(name)
                            }
                        }
                        return outcomes
                    }
                }
                for try await done in group { collect(done) }
            }
        }
        guard blocking.isEmpty else {
            throw ClientError.integrity("\(blocking.count) manifest(s) under the old keys cannot be opened right now; "
                                        + "the old keys are kept: run edfs key rotate again")
        }
        let finished = try Keyslot.seal(user: user, kek: kek, kdf: session.keyslot.header.kdf,
                                        revision: session.keyslot.header.revision + 1, bundles: [target])
        try await KeyslotPublication(links: session.links).storeEverywhere(finished, resume: "run edfs key rotate again")
        return report
    }

    /// True when manifest `id`, no copy of which opened, may still be a real file at an older key epoch than
    /// `target`: some node holding it did not answer. Copies that claim an older epoch whose key this session holds
    /// and fail authentication with it are damaged or forged: no key holder can ever open them, so they do not keep
    /// the old keys; they are removed (each only up to its own version) and reported.
    private static func holdsOldEpochManifest(_ session: ClusterSession, id: String, nodes: [Int],
                                              target: KeyBundle) async -> Bool {
        let fetched = await session.fanOut.run(on: nodes) { _, link in try await link.getManifest(id) }
        var garbage = [(node: Int, version: UInt64)]()
        var claimsOldEpoch = false
        for case let (node, bytes?) in fetched.values {
            guard let header = try? ManifestHeader.decode(prefixOf: bytes), header.manifestID.hex == id,
                  header.keyEpoch < target.epoch, let bundle = session.bundle(epoch: header.keyEpoch) else { continue }
            claimsOldEpoch = true
            if (try? Manifest.open(bytes, masterKey: bundle.masterKey)) == nil { garbage.append((node, header.version)) }
        }
        guard claimsOldEpoch else { return false }
        guard fetched.failures.isEmpty, let manifestID = try? ManifestID(hex: id) else { return true }
        for (node, version) in garbage {
            session.notices.add("node \(session.nodeName(node)) holds a manifest copy under the old keys that fails "
                                + "authentication (damaged or forged); removed")
        }
        await ManifestCommit(session: session).remove(garbage.map { (id: manifestID, node: $0.node, version: $0.version) })
        return false
    }
}

/// One file's move to the target epoch, under the session whose keyslot holds both epochs.
private struct RotationStep: Sendable {
    let session: ClusterSession
    let target: KeyBundle
    let reencrypt: Bool
    let progress: TransferProgress?

    private var reader: ManifestReader { ManifestReader(session) }
    private var commit: ManifestCommit { ManifestCommit(session: session) }
    private var removal: ObjectRemoval { ObjectRemoval(session: session) }

    static func needsRotation(_ record: ManifestRecord, to target: KeyBundle, reencrypt: Bool) -> Bool {
        if record.header.keyEpoch != target.epoch { return true }
        return reencrypt && record.body.hasObjects && record.body.dataKeyEpoch != target.epoch
    }

    /// Moves one file to the target epoch; idempotent, so an interrupted run can simply do it again.
    func rotate(_ stale: ManifestRecord) async throws -> RotationOutcome {
        let name = stale.body.name
        // Work from what the nodes hold now, not from the inventory: a put or rm may have come in between.
        let lookup = try await reader.lookUp(path: name)
        // Every node must answer; one holding a copy that fails authentication did answer, and the commit below
        // replaces such a copy (ManifestCommit, `replacingForged`): a lying node cannot stall the rotation.
        guard lookup.failedNodes.isEmpty else {
            throw ClientError.notEnoughNodes("not every node answered for \(name); run edfs key rotate again to finish")
        }
        guard let record = lookup.newest else {
            // Removed meanwhile: only what an interrupted re-encryption of the listed version may have left.
            await removeReencryptionLeftovers(of: stale, keeping: nil)
            return .alreadyDone
        }
        if !Self.needsRotation(record, to: target, reencrypt: reencrypt) {
            // Done before (the run was interrupted after a commit) or superseded by a put. Make sure the newest
            // manifest is on every node (a commit interrupted half-way), then drop what is left of older copies.
            let lacking = (0..<session.nodeCount).filter { !record.holders.contains($0) }
            if !lacking.isEmpty {
                let (accepted, _) = await commit.store(id: record.id, bytes: record.bytes, replacingForged: lookup.forged)
                guard Set(accepted).union(record.holders).count == session.nodeCount else {
                    throw ClientError.notEnoughNodes("the manifest of \(name) is not on every node; run edfs key rotate again")
                }
            }
            await commit.removeSuperseded(lookup, keeping: record.header.manifestID)
            if stale.header.fileID != record.header.fileID && stale.body.hasObjects {
                await removal.remove(objectsOf: stale, includingReencryptionTarget: false)
            }
            await removeReencryptionLeftovers(of: stale, keeping: record.header.fileID)
            return .alreadyDone
        }
        if record.body.isDeleted {
            // An old-epoch tombstone guards an id that no reader uses after the rotation.
            await commit.remove(lookup.copies.filter { $0.id == record.header.manifestID })
            return .tombstoneDropped
        }
        var body = record.body
        var fileID = record.header.fileID
        let reencrypting = reencrypt && body.hasObjects && body.dataKeyEpoch != target.epoch
        if reencrypting {
            // File id and data key both derived from the old file id under the new master key: a run interrupted
            // before its commit, or a second run at the same time, writes byte-identical objects (the same key and
            // nonce only ever seal the same verified plaintext), so nothing is orphaned or mixed.
            fileID = try ReencryptionTarget.fileID(for: record.header.fileID, target: target)
            do {
                body = try await reencryptObjects(of: record, into: fileID, epoch: target.epoch,
                                                  dataKey: ReencryptionTarget.dataKey(for: record.header.fileID, target: target))
            } catch {
                // If the file changed under us, the objects written so far will never be committed.
                if let now = try? await reader.lookUp(path: name), now.newest?.bytes != record.bytes {
                    await removeReencryptionLeftovers(of: record, keeping: now.newest?.header.fileID)
                }
                throw error
            }
        }
        body.dataKeyEpoch = reencrypting ? target.epoch : body.dataKeyEpoch
        let inlineReencrypted = reencrypt && body.isInline && body.dataKeyEpoch != target.epoch
        if inlineReencrypted {
            // An inline file's bytes are sealed with its body, so re-sealing it under the new masterKey re-encrypts
            // them; its (unused) data key is replaced as well, so the body says truly which epoch made it.
            body.dataKey = try SymmetricKey.generate()
            body.dataKeyEpoch = target.epoch
        }
        // Re-read just before the commit, as a put does: a writer that came in meanwhile wins.
        let current = try await reader.lookUp(path: name)
        guard current.highestVersion == lookup.highestVersion, current.newest?.bytes == record.bytes else {
            if reencrypting { await removeReencryptionLeftovers(of: record, keeping: current.newest?.header.fileID) }
            throw ClientError.failed("\(name) changed during the rotation; run edfs key rotate again to finish")
        }
        let id = ManifestID.derive(path: name, nameKey: target.nameKey)
        let manifest = try Manifest.seal(manifestID: id, version: try current.nextVersion(), fileID: fileID,
                                         keyEpoch: target.epoch, body: body, masterKey: target.masterKey)
        let (accepted, _) = await commit.store(id: id, bytes: manifest, replacingForged: current.forged)
        guard accepted.count == session.nodeCount else {
            throw ClientError.notEnoughNodes("the new manifest of \(name) reached \(accepted.count) of \(session.nodeCount) nodes; "
                                             + "run edfs key rotate again to finish")
        }
        // The old version's manifests go before its objects: a node never deletes an object a manifest it holds
        // names (MetadataStore.deleteObject). A run killed in between leaves objects no manifest names, which the
        // nodes' orphan collection reclaims.
        await commit.removeSuperseded(current, keeping: id)
        if reencrypting {
            await removal.remove(objectsOf: record, includingReencryptionTarget: false)  // the target is the new version
        }
        return reencrypting || inlineReencrypted ? .reencrypted : .rewrapped
    }

    /// Removes the objects a re-encryption of `record` would have written, unless they are `keeping`'s.
    private func removeReencryptionLeftovers(of record: ManifestRecord, keeping: FileID?) async {
        guard record.body.hasObjects, let derived = try? ReencryptionTarget.fileID(for: record.header.fileID, target: target),
              derived != keeping, let placement = try? record.placement() else { return }
        await removal.remove(fileID: derived, placement: placement, stripeCount: record.stripeCount)
    }

    /// Streams every stripe of `record` from a good replica, opens it, seals it again under a fresh data key and
    /// writes it as the objects of `fileID` on all R nodes of the new placement. Returns the new body.
    private func reencryptObjects(of record: ManifestRecord, into fileID: FileID, epoch: UInt32,
                                  dataKey: SymmetricKey) async throws -> ManifestBody {
        guard Int(record.body.nodeCount) == session.nodeCount else {
            throw ClientError.usage("\(record.body.name) was stored on \(record.body.nodeCount) nodes; the config lists "
                                    + "\(session.nodeCount)")
        }
        let placement = try record.placement()
        let row = placement.row(for: fileID)
        try await withThrowingTaskGroup(of: Void.self) { group in
            // The layout is kept: a single-stripe file stays one stripe (stripe 0 of the new file id's row).
            for stripe in 0..<record.stripeCount {
                if stripe >= TransferTuning.concurrentStripes { try await group.next() }
                let old = try record.stripeHeader(stripe)
                let header = try StripeHeader(fileID: fileID, stripeIndex: old.stripeIndex, stripeCount: old.stripeCount,
                                              segmentSize: old.segmentSize, plaintextLength: old.plaintextLength)
                let targets = try placement.nodes(stripe: stripe, row: row)
                group.addTask {
                    try await reencryptStripe(record, stripe: stripe, into: header, targets: targets, dataKey: dataKey)
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
        let work = try StripeSealWork(header: header, dataKey: dataKey)
        // A rotation runs with every node up: every replica must take the new object.
        let uploads = try await ReplicaUploads.begin(session: session, header: header, targets: targets,
                                                     quorum: targets.count, hint: "run edfs key rotate again")
        let sealed = SealedBatchHandOff()
        do {
            try await uploads.send(ByteBuffer(bytes: work.sealer.headerBytes))
            try await StripeDownload(session: session).fetch(record, stripe: stripe, consume: { plaintext, _ in
                sealed.put(try work.seal(plaintext))
            }, afterBatch: { [progress] count in
                try await uploads.send(sealed.take())
                progress?.advance(count)
            })
            _ = try await uploads.finish()
        } catch {
            await uploads.cancel()
            throw error
        }
    }
}

/// The batch sealed inside the download's blocking job, handed to the task that sends it.
private final class SealedBatchHandOff: Sendable {
    private let stash = PthreadMutex<ByteBuffer?>(nil)

    func put(_ buffer: ByteBuffer) { stash.withLock { $0 = buffer } }

    func take() -> ByteBuffer {
        stash.withLock { s in
            defer { s = nil }
            return s ?? ByteBuffer()
        }
    }
}
