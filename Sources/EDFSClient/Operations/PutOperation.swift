import EDFSCrypto
import EDFSFormat
import NIOCore
#if canImport(Glibc)
import Glibc
#endif

/// What a put stored.
public struct PutResult: Sendable {
    public var name: String
    public var size: UInt64
    public var version: UInt64
    /// Replicas that could not be written (the put still met the write quorum).
    public var missingReplicas: [MissingReplica]
    /// Nodes that hold the new manifest.
    public var manifestNodes: [Int]
}

/// `edfs put`: encrypts a local file and stores it as a new version, committed by its manifest.
public struct PutOperation: Sendable {
    public let session: ClusterSession

    public init(_ session: ClusterSession) { self.session = session }

    /// Stores the local file at `path` as `name` (a `StoredPath`), with `mode` (default: the local file's permission
    /// bits). The folders above `name` get folder entries where they have none; a folder of that name, or a file where
    /// one of those folders should be, refuses the put (`ClientError.conflict`). Fails (`ClientError.notEnoughNodes`)
    /// without touching the previous version when a stripe cannot reach the write quorum. Memory is bounded by one
    /// batch per stripe in flight, whatever the file size.
    /// `committing` is called once every stripe is stored, right before the manifest commit starts.
    /// `lookedUp` is the name's lookup when the caller already made it (`ManifestReader.lookUp(paths:)`, one request
    /// per node for many names); it is what the put compares with the lookup right before its commit, so an older one
    /// only makes a concurrent writer's win more likely to be noticed, never missed.
    /// `batch` gathers this put's pre-commit re-read and manifest store with those of the other files of the same
    /// command that commit at the same time (one request per node for all of them); the outcome is the same.
    public func run(file path: String, as name: String, mode: UInt32? = nil,
                    progress: TransferProgress? = nil, lookedUp: ManifestLookup? = nil, batch: CommitBatch? = nil,
                    committing: (@Sendable () -> Void)? = nil) async throws -> PutResult {
        if let problem = StoredPath.problem(with: name) { throw ClientError.usage("\(problem): \"\(name)\"") }
        let config = session.config
        let source = try LocalSource(path: path)
        defer { source.close() }
        let placement = config.placement
        guard placement.nodeCount == session.nodeCount else {
            throw ClientError.usage("placement does not match the server list")
        }
        let quorum = config.writeQuorum
        guard (1...placement.replicas).contains(quorum) else {
            throw ClientError.usage("\(config.path): WriteQuorum must be 1…\(placement.replicas)")
        }
        guard session.reachableNodes.count >= config.commitQuorum else {
            throw ClientError.notEnoughNodes(
                "a put needs \(config.commitQuorum) reachable nodes to commit \(name), only \(session.reachableNodes.count) "
                    + "answered; the previous version is unchanged")
        }
        guard let segmentSize = UInt32(exactly: config.segmentSize),
              (1...SegmentScheme.maximumSegmentSize).contains(config.segmentSize) else {
            throw ClientError.usage("\(config.path): SegmentSize must be 1 B…64 MiB")
        }
        let fileID = try FileID.random()
        let row = placement.row(for: fileID)
        // k: one stripe for a file that fits in one segment (stripe 0 of row h, on R nodes), else one per node.
        let stripeCount = TransferTuning.stripeCount(fileSize: source.size, segmentSize: config.segmentSize,
                                                     nodeCount: placement.nodeCount)
        // A file of at most `InlineLimit` bytes and one segment goes inside its manifest: no objects to write
        // (docs/FORMAT.md §3, body version 5). It is read whole now, into wiped memory (a few KiB at most).
        let inlineData: SecureBytes? = TransferTuning.storesInline(fileSize: source.size, config: config)
            ? try SecureBytes(count: Int(source.size)) { try source.read(into: $0, at: 0) } : nil
        // Fail fast, before any data moves, when some stripe cannot reach its write quorum.
        for stripe in 0..<(inlineData == nil ? stripeCount : 0) {
            let nodes = try placement.nodes(stripe: stripe, row: row)
            let reachable = nodes.filter { session.links[$0] != nil }
            if reachable.count < quorum {
                throw ClientError.notEnoughNodes(
                    "stripe \(stripe) of \(name) needs \(quorum) of nodes \(nodes.map(session.nodeName).joined(separator: ",")), "
                        + "only \(reachable.count) reachable; the previous version is unchanged")
            }
        }
        let reader = ManifestReader(session)
        let removal = ObjectRemoval(session: session)
        let previous: ManifestLookup
        if let lookedUp { previous = lookedUp } else { previous = try await reader.lookUp(path: name) }
        if previous.live?.body.isFolder == true {
            throw ClientError.conflict("\(name) is a folder; a file cannot take its name")
        }
        try await FolderOperation(session).ensureFolders(above: name)
        let dataKey = try SymmetricKey.generate()
        let layout = try StripeLayout(fileSize: source.size, stripeCount: stripeCount)

        // The objects this put wrote (none for an inline file), removed when it is not stored.
        let upload = UploadedObjects(fileID: fileID, placement: placement, stripeCount: inlineData == nil ? stripeCount : 0,
                                     removal: removal)
        var durable = [Int: [Int]]()
        do {
            durable = try await withThrowingTaskGroup(of: (Int, [Int]).self) { group in
                var result = [Int: [Int]]()
                for stripe in 0..<upload.stripeCount {
                    if stripe >= TransferTuning.concurrentStripes, let (done, nodes) = try await group.next() {
                        result[done] = nodes
                    }
                    let header = try StripeHeader(fileID: fileID, stripeIndex: UInt32(stripe),
                                                  stripeCount: UInt32(stripeCount), segmentSize: segmentSize,
                                                  plaintextLength: layout.length(ofStripe: stripe))
                    let targets = try placement.nodes(stripe: stripe, row: row)
                    let fileOffset = layout.offset(ofStripe: stripe)
                    group.addTask {
                        let nodes = try await storeStripe(header: header, targets: targets, quorum: quorum, dataKey: dataKey,
                                                          source: source, fileOffset: fileOffset, progress: progress)
                        return (stripe, nodes)
                    }
                }
                for try await (stripe, nodes) in group { result[stripe] = nodes }
                return result
            }
            if let inlineData { progress?.advance(inlineData.count) }
        } catch {
            await upload.discard()
            throw error
        }

        var missing = [MissingReplica]()
        for stripe in 0..<upload.stripeCount {
            for node in try placement.nodes(stripe: stripe, row: row) where !(durable[stripe] ?? []).contains(node) {
                missing.append(MissingReplica(stripe: UInt32(stripe), node: UInt16(node)))
            }
        }
        let bundle = session.currentBundle
        let body = if let inlineData {
            ManifestBody.inline(name: name, data: inlineData, modificationSeconds: source.modificationSeconds,
                                modificationNanoseconds: source.modificationNanoseconds, dataKey: dataKey,
                                segmentSize: segmentSize, nodeCount: UInt16(placement.nodeCount),
                                replicas: UInt16(placement.replicas), dataKeyEpoch: bundle.epoch,
                                mode: mode ?? source.mode, storedSeconds: Int64(time(nil)))
        } else {
            ManifestBody(name: name, size: source.size, modificationSeconds: source.modificationSeconds,
                         modificationNanoseconds: source.modificationNanoseconds, dataKey: dataKey,
                         segmentSize: segmentSize, nodeCount: UInt16(placement.nodeCount),
                         replicas: UInt16(placement.replicas), stripeLengths: layout.lengths,
                         missingReplicas: missing, dataKeyEpoch: bundle.epoch, mode: mode ?? source.mode,
                         storedSeconds: Int64(time(nil)))
        }
        let id = ManifestID.derive(path: name, nameKey: bundle.nameKey)
        // Re-read right before the commit: a writer that committed while this put uploaded wins, and this put
        // removes what it uploaded instead of overwriting that version or deleting its objects.
        let current: ManifestLookup
        if let batch { current = await batch.lookUp(path: name) } else { current = try await reader.lookUp(path: name) }
        guard current.highestVersion == previous.highestVersion else {
            await upload.discard()
            throw ClientError.failed("\(name) was stored by another client during this put; run the put again")
        }
        let version = try current.nextVersion()
        let manifest = try Manifest.seal(manifestID: id, version: version, fileID: fileID, keyEpoch: bundle.epoch,
                                         body: body, masterKey: bundle.masterKey)
        let commit = ManifestCommit(session: session)
        committing?()
        let asked = session.reachableNodes
        var (committed, stale) = if let batch {
            await batch.store(id: id, bytes: manifest, replacingForged: current.forged)
        } else {
            await commit.store(id: id, bytes: manifest, replacingForged: current.forged)
        }
        if committed.isEmpty, !stale.isEmpty {
            // Every node already had this version from another writer, which may have reported success: it won.
            await upload.discard()
            throw ClientError.failed("\(name) was stored by another client at the same time, whose version is kept; "
                                     + "this put was not stored: run it again to replace that version")
        }
        if !stale.isEmpty {
            // Another writer committed the same version on other nodes at the same time. Both writers settle it the
            // same way, by the order every reader uses (`ManifestRecord.supersedes`): the winner gives its manifest to
            // the other nodes, the loser undoes its copies. Each gets a definite answer, the nodes converge.
            guard let holders = try await settleRace(name: name, id: id, version: version, manifest: manifest, body: body,
                                                     committed: committed, stale: stale) else {
                await upload.discard()
                throw ClientError.failed("\(name) was stored by another client at the same time, whose version is kept; "
                                         + "this put was not stored: run it again to replace that version")
            }
            guard holders.count >= config.commitQuorum else {
                // Won, but nodes failed meanwhile: never undone once won (the loser may be giving this version to its
                // nodes), so the outcome stays open until a repair spreads it.
                throw ClientError.notEnoughNodes("\(name): this put won a race with another writer but its manifest "
                                                 + "reached only \(holders.count) node(s); run edfs repair, then check it")
            }
            committed = holders
            stale = []
        }
        guard committed.count >= config.commitQuorum else {
            // Too few holders: a read quorum could miss this version. Undo it, so the answer is a definite "not stored".
            await commit.rollBack(id: id, version: version, on: committed, restoring: current.newest)
            let reached = committed.isEmpty ? "no node accepted the manifest of \(name)"
                : "the manifest of \(name) reached \(committed.count) node(s), a commit needs \(config.commitQuorum)"
            throw await abandon(name: name, manifest: manifest, id: id, version: version, previous: current.newest,
                                asked: asked, reached: reached, upload: upload)
        }
        // The old versions' objects go only once every reachable node holds the new manifest: a node that still
        // serves an old one must not point at deleted objects while the new one's holders are down. Every version
        // seen goes, not only the newest: a commit interrupted half-way, or an unfinished rotation, leaves older
        // ones under another id whose objects nothing else would remove.
        if committed.count == session.reachableNodes.count {
            // Manifests first: a node keeps every object a manifest it holds still names.
            await commit.removeSuperseded(current, keeping: id)
            await removal.remove(objectsOfEvery: current.versions, keeping: fileID)
        } else {
            session.notices.add("\(name): manifest stored on \(committed.count) of \(session.reachableNodes.count) "
                                + "reachable nodes (edfs repair gives the others a copy)"
                                + (current.versions.isEmpty ? "" : "; the previous version's objects are kept until then"))
        }
        return PutResult(name: name, size: source.size, version: version, missingReplicas: missing, manifestNodes: committed)
    }

    /// Ends a put whose commit fell short of the quorum (already undone where it was accepted). A node whose answer
    /// was lost may have stored the manifest all the same (its reply failed, not its write): this asks every node it
    /// sent the manifest to, undoes it wherever it is found, and removes the put's objects only when every one of them
    /// answered without it. Otherwise the objects stay (a node holding the manifest must not point at deleted
    /// objects; at worst they are orphans) and the error says the outcome is open.
    private func abandon(name: String, manifest: [UInt8], id: ManifestID, version: UInt64, previous: ManifestRecord?,
                         asked: [Int], reached: String, upload: UploadedObjects) async -> ClientError {
        let commit = ManifestCommit(session: session)
        var open = Set(asked)
        if let check = try? await ManifestReader(session).lookUp(path: name) {
            let holding = check.versions.filter { $0.bytes == manifest }.flatMap(\.holders)
            let notUndone = holding.isEmpty ? []
                : await commit.rollBack(id: id, version: version, on: holding, restoring: previous)
            // A node lost meanwhile (its link dropped) is not asked again: it did not answer either.
            let answered = Set(session.reachableNodes).subtracting(check.failedNodes)
            open = Set(asked).subtracting(answered).union(notUndone)
        }
        guard open.isEmpty else {
            let nodes = open.sorted().map(session.nodeName).joined(separator: ",")
            return ClientError.notEnoughNodes("\(reached); node(s) \(nodes) did not answer whether they stored it, so a "
                                              + "get may return this version or the previous one"
                                              + (upload.stripeCount > 0 ? "; its data is kept" : "")
                                              + ": run edfs check, then edfs repair")
        }
        await upload.discard()
        return ClientError.notEnoughNodes("\(reached); the previous version is unchanged")
    }

    /// Settles a commit that met another writer's at the same version. Returns the nodes holding this put's manifest
    /// when it wins (after giving it to the nodes that held the other one), or nil when it lost (its copies replaced
    /// by the winner's).
    private func settleRace(name: String, id: ManifestID, version: UInt64, manifest: [UInt8], body: ManifestBody,
                            committed: [Int], stale: [Int]) async throws -> [Int]? {
        let now = try await ManifestReader(session).lookUp(path: name)
        // This put's own record, also when the other writer has already replaced every copy of it.
        let mine = ManifestRecord(id: id, header: try ManifestHeader.decode(prefixOf: manifest), body: body,
                                  bytes: manifest, holders: [])
        let rival = now.versions.filter { $0.bytes != manifest && $0.header.version == version }
            .max { $1.supersedes($0) }
        if let rival, rival.supersedes(mine) {
            // Lost: give the winner's manifest to the nodes that took this one (the winner does the same; only the
            // winner's bytes are ever written, so every interleaving ends with them). The winner never undoes its
            // copies once it has won, so this put's objects can go.
            let replaced = await ManifestCommit(session: session).replace(id: id, bytes: rival.bytes, version: version,
                                                                          on: committed)
            for (node, error) in replaced.failures {
                if case NodeLinkError.stale = error { continue }  // a newer version is there
                session.notices.add("node \(session.nodeName(node)): copy of \(name) not handed to the other writer's "
                                    + "version: \(error); run edfs repair")
            }
            return nil
        }
        // This put wins (or the other writer already withdrew): give its manifest to the nodes holding the loser's.
        let spread = await ManifestCommit(session: session).replace(id: id, bytes: manifest, version: version, on: stale)
        for (node, error) in spread.failures {
            session.notices.add("node \(session.nodeName(node)): the other writer's copy of \(name) not replaced: \(error); "
                                + "run edfs repair")
        }
        session.notices.add("\(name): another client stored the same version at the same time; this put's version won")
        return (committed + spread.succeeded).sorted()
    }

    /// Reads, seals and streams one stripe to its replicas; returns the nodes that acknowledged it durably (at least
    /// `quorum`).
    private func storeStripe(header: StripeHeader, targets: [Int], quorum: Int, dataKey: SymmetricKey,
                             source: LocalSource, fileOffset: UInt64, progress: TransferProgress?) async throws -> [Int] {
        let work = try StripeSealWork(header: header, dataKey: dataKey)
        let uploads = try await ReplicaUploads.begin(session: session, header: header, targets: targets, quorum: quorum,
                                                     hint: "the previous version is unchanged")
        do {
            try await uploads.send(ByteBuffer(bytes: work.sealer.headerBytes))
            var done: UInt64 = 0
            repeat {
                let count = Int(min(UInt64(work.batchBytes), header.plaintextLength - done))
                let offset = fileOffset + done
                let sealed = try await runBlocking { try work.readAndSeal(source: source, offset: offset, count: count) }
                try await uploads.send(sealed)
                done += UInt64(count)
                progress?.advance(count)
            } while done < header.plaintextLength
        } catch {
            // A read, seal or quorum failure: the nodes drop the unfinished uploads and store nothing.
            await uploads.cancel()
            throw error
        }
        return try await uploads.finish()
    }
}

/// The stripe objects one put wrote (none for an inline file): what it removes when the put is not stored.
struct UploadedObjects: Sendable {
    let fileID: FileID
    let placement: Placement
    /// Stripes uploaded: the version's k, or 0 for an inline file.
    let stripeCount: Int
    let removal: ObjectRemoval

    /// Removes the objects (best effort; what a node keeps becomes an orphan for its collection).
    func discard() async {
        guard stripeCount > 0 else { return }
        await removal.remove(fileID: fileID, placement: placement, stripeCount: stripeCount)
    }
}
