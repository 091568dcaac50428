import EDFSFormat

/// What `repair` did (or, with a dry run, would do) to one file.
public struct FileRepair: Sendable, Codable, Equatable {
    public var name: String
    /// Replicas copied (or to copy), as "stripe 2 → DFS3".
    public var replicasCopied: [String]
    /// Replicas that could not be made, with why.
    public var replicasFailed: [String]
    /// Nodes given the newest manifest (or a removal's tombstone).
    public var manifestsSpread: [String]
    /// Older versions whose objects were removed once every node held the newest.
    public var versionsRemoved: Int
    /// The file's health afterwards, as a new check would judge it from what repair saw and did.
    public var healthAfter: FileHealth
}

/// What `repair` did to the whole store.
public struct RepairReport: Sendable, Codable, Equatable {
    public var files: [FileRepair]
    public var dryRun: Bool
    public var unreachableNodes: [String]
    /// What the check before the repair found as `CheckReport.unopenedManifests`: nothing a repair can restore.
    public var unopenedManifests: [String]?

    /// The worst health after the repair; `damaged` when some manifest opens nowhere.
    public var worst: FileHealth { FileHealth.worst(of: files.map(\.healthAfter), unopenedManifests: unopenedManifests) }
}

/// `edfs repair`: brings every stripe of every file back to R good replicas on the nodes its placement names (the
/// ciphertext copied from a replica that verifies, through the client), gives every node the newest manifest (a
/// removal's tombstone included, which is kept for good), settles two copies of one version, and removes older versions'
/// objects once every node holds the newest. It never writes a new manifest version, so it cannot race a user's put: the manifest's
/// missing-replica list stays as the put recorded it, and `check` judges from the replicas actually stored.
///
/// Idempotent and resumable: run again after an interruption, it starts from what the nodes hold.
public struct RepairOperation: Sendable {
    public let session: ClusterSession

    public init(_ session: ClusterSession) { self.session = session }

    /// Repairs the named files (every file when `names` is empty). With `dryRun`, reports what it would do.
    /// `progress` follows the check first (its phase as given), then phase "repair": the files that need it, and the
    /// plaintext bytes of the replicas copied.
    public func run(names: [String] = [], readData: Bool = false, dryRun: Bool = false,
                    progress: TransferProgress? = nil) async throws -> RepairReport {
        let (check, answered) = try await CheckOperation(session).runWithAnswers(names: names, readData: readData,
                                                                                 progress: progress)
        let reader = ManifestReader(session)
        var files = [FileRepair]()
        let needing = check.files.filter { $0.health != .healthy }
        progress?.startPhase("repair", totalFiles: needing.count)
        for file in needing {
            progress?.begin(file.name)
            defer { progress?.end(file.name) }
            let lookup = try await reader.lookUp(path: file.name)
            guard let newest = lookup.newest else { continue }
            guard newest.header.version == file.version, newest.body.isDeleted == file.removed else {
                // Another client put or removed it since the check: what the check saw is gone; judge it again later.
                session.notices.add("\(file.name) changed during the repair (another client); run edfs check again")
                continue
            }
            var result = FileRepair(name: file.name, replicasCopied: [], replicasFailed: [], manifestsSpread: [],
                                    versionsRemoved: 0, healthAfter: file.health)
            var stripesWhole = true
            if newest.body.hasObjects {
                let stripes = try stripeSurveys(from: file, record: newest)
                for stripe in stripes where !stripe.needing.isEmpty || stripe.good.count < Int(newest.body.replicas) {
                    let (copied, failed) = await repairStripe(newest, stripe: stripe, dryRun: dryRun, progress: progress)
                    result.replicasCopied += copied
                    result.replicasFailed += failed
                    if !failed.isEmpty || stripe.replicas.contains(where: { $0.state == .unreachable }) || stripe.good.isEmpty {
                        stripesWhole = false
                    }
                }
            }
            let spread = ManifestSpread(lookup: lookup, newest: newest, answered: answered, session: session)
            let targets = spread.missing + spread.older.map(\.node) + spread.divergent + spread.forged
            if !targets.isEmpty {
                result.manifestsSpread = dryRun ? targets.sorted().map(session.nodeName)
                    : await spreadManifest(newest, to: targets, lookup: lookup).map(session.nodeName)
            }
            let everyNodeHolds = newest.holders.count + result.manifestsSpread.count == session.nodeCount
                && answered.count == session.nodeCount
            if everyNodeHolds, !dryRun {
                // Every node serves the newest version: nothing can point at the older versions' objects any more.
                let older = lookup.versions.filter { $0.header.fileID != newest.header.fileID && $0.body.hasObjects }
                // Manifests first: a node keeps every object a manifest it holds still names.
                await ManifestCommit(session: session).removeSuperseded(lookup, keeping: newest.id)
                await ObjectRemoval(session: session).remove(objectsOfEvery: older, keeping: newest.header.fileID)
                result.versionsRemoved = Set(older.map(\.header.fileID)).count
            }
            if file.health == .damaged || file.health == .unavailable, !stripesWhole {
                result.healthAfter = file.health
            } else {
                result.healthAfter = stripesWhole && everyNodeHolds ? .healthy : .degraded
            }
            if dryRun { result.healthAfter = file.health }
            files.append(result)
        }
        return RepairReport(files: files, dryRun: dryRun, unreachableNodes: check.unreachableNodes,
                            unopenedManifests: check.unopenedManifests)
    }

    /// The check's stripe reports as node indices (a report lists a stripe's replicas in placement order; names are
    /// not used: a config may name two servers alike).
    private func stripeSurveys(from file: FileCheck, record: ManifestRecord) throws -> [StripeSurvey] {
        try file.stripes.map { report in
            let nodes = try record.nodes(ofStripe: report.stripe)
            return StripeSurvey(stripe: report.stripe, replicas: zip(nodes, report.replicas).map { node, replica in
                (node, replica.state, replica.size)
            })
        }
    }

    /// Copies a verified replica of one stripe to every reachable placement node that lacks a good one.
    private func repairStripe(_ record: ManifestRecord, stripe: StripeSurvey, dryRun: Bool,
                              progress: TransferProgress?) async -> (copied: [String], failed: [String]) {
        let targets = stripe.needing
        guard !targets.isEmpty else { return ([], []) }
        let label = { (node: Int) in "stripe \(stripe.stripe) → \(session.nodeName(node))" }
        guard !stripe.good.isEmpty else {
            return ([], targets.map { label($0) + ": no good replica to copy from" })
        }
        if dryRun { return (targets.map(label), []) }
        var reasons = [String]()
        for source in stripe.good {
            do {
                let stored = try await StripeCopy(session: session).copy(record, stripe: stripe.stripe, from: source,
                                                                         to: targets, verified: { progress?.advance($0) })
                let missed = targets.filter { !stored.contains($0) }
                return (stored.map(label), missed.map { label($0) + ": the node did not store it" })
            } catch {
                reasons.append("\(session.nodeName(source)): \(error)")
                session.notices.add("stripe \(stripe.stripe) of \(record.body.name): copy from \(session.nodeName(source)) "
                                    + "failed: \(error)")
            }
        }
        return ([], targets.map { label($0) + ": every source failed (" + reasons.joined(separator: "; ") + ")" })
    }

    /// Gives `nodes` the newest manifest: a node with an older version takes it as newer; one with another copy of
    /// the same version (a writers' race, settled by `ManifestRecord.supersedes`) or a forged copy has that copy removed
    /// first (only up to the newest's version, so a version written meanwhile survives). Returns the nodes that took it.
    private func spreadManifest(_ newest: ManifestRecord, to nodes: [Int], lookup: ManifestLookup) async -> [Int] {
        var bounds = [Int: UInt64]()
        for copy in lookup.forged where copy.id == newest.id && nodes.contains(copy.node) {
            bounds[copy.node] = copy.storedVersion
        }
        let results = await ManifestCommit(session: session).replace(id: newest.id, bytes: newest.bytes,
                                                                     version: newest.header.version, on: nodes,
                                                                     bounds: bounds)
        for (node, error) in results.failures {
            session.notices.add("node \(session.nodeName(node)): manifest of \(newest.body.name) not stored: \(error)")
        }
        return results.succeeded
    }
}
