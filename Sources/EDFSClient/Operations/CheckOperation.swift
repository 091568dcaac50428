import EDFSFormat

/// How a stored file stands, worst last.
public enum FileHealth: String, Sendable, Codable, Comparable, CaseIterable {
    /// Every stripe has R good replicas where the placement puts them, and every node holds the newest manifest.
    case healthy
    /// Readable, but short of that: a replica missing, corrupt or on a node that did not answer, or a manifest
    /// missing, older or divergent on some node (or failing authentication on so many that a get refuses the file
    /// until it is repaired). `edfs repair` fixes what the reachable nodes allow.
    case degraded
    /// Some stripe has no good replica on the nodes that answered, and some of its nodes did not answer.
    case unavailable
    /// Some stripe has no good replica on any of its nodes, every one of which answered: the file is lost.
    case damaged

    private var rank: Int { Self.allCases.firstIndex(of: self) ?? 0 }
    public static func < (lhs: FileHealth, rhs: FileHealth) -> Bool { lhs.rank < rhs.rank }

    /// The worst of `healths` (healthy when there are none), `damaged` when some manifest opens nowhere.
    static func worst(of healths: [FileHealth], unopenedManifests: [String]?) -> FileHealth {
        max(healths.max() ?? .healthy, unopenedManifests?.isEmpty == false ? .damaged : .healthy)
    }
}

/// One replica as `check` reports it.
public struct ReplicaReport: Sendable, Codable, Equatable {
    public var node: String
    public var state: ReplicaState
    /// The stored length, where the node has an object under that name.
    public var size: UInt64?
}

/// The replicas of one stripe, primary first.
public struct StripeReport: Sendable, Codable, Equatable {
    public var stripe: Int
    public var replicas: [ReplicaReport]
}

/// What `check` found for one file.
public struct FileCheck: Sendable, Codable, Equatable {
    public var name: String
    /// True for a removal (a tombstone) that has not reached every node yet.
    public var removed: Bool
    public var version: UInt64
    public var size: UInt64
    public var health: FileHealth
    /// One sentence per defect, for people.
    public var problems: [String]
    /// Nodes holding the newest manifest.
    public var manifestNodes: [String]
    public var stripes: [StripeReport]
}

/// What `check` found for the whole store.
public struct CheckReport: Sendable, Codable, Equatable {
    public var files: [FileCheck]
    /// Nodes that did not answer.
    public var unreachableNodes: [String]
    /// Objects no authentic manifest version refers to (only with every file checked): failed or interrupted puts,
    /// or a put in flight. Reclaimed by the nodes' garbage collection after its grace period.
    public var orphanObjects: Int?
    public var orphanBytes: UInt64?
    /// Whether every replica was read and its tags verified.
    public var readData: Bool
    /// Manifest ids (only with every file checked) some node holds but of which no copy opens under the user's keys:
    /// a file damaged on every copy — lost, its name unknown — or copies a node made up. Either way `damaged`.
    public var unopenedManifests: [String]?

    /// The worst health of any file (healthy when there are none); `damaged` when some manifest opens nowhere.
    public var worst: FileHealth { FileHealth.worst(of: files.map(\.health), unopenedManifests: unopenedManifests) }
}

/// `edfs check`: which replicas of each file exist, where, with which size; with `readData`, every replica read
/// and every GCM tag verified. Changes nothing.
public struct CheckOperation: Sendable {
    public let session: ClusterSession

    public init(_ session: ClusterSession) { self.session = session }

    /// Checks the files named (every file when `names` is empty). Throws `noSuchFile` for a name that is not stored,
    /// `notEnoughNodes` when fewer than the read quorum answered.
    /// `progress` counts files judged and, with `readData`, plaintext bytes verified (of stripe lengths × replicas).
    public func run(names: [String] = [], readData: Bool = false,
                    progress: TransferProgress? = nil) async throws -> CheckReport {
        try await runWithAnswers(names: names, readData: readData, progress: progress).report
    }

    /// `run`, also returning the nodes whose listing answered (repair works with the same answers, no second listing).
    func runWithAnswers(names: [String], readData: Bool,
                        progress: TransferProgress? = nil) async throws -> (report: CheckReport, answered: [Int]) {
        let inventory = await ClusterInventory.take(session)
        try inventory.requireReadQuorum(session)
        let answered = inventory.answeredNodes(session)
        let wanted: [String]
        var unopened: [String]?
        if names.isEmpty {
            let (records, _, lost) = await inventory.newestManifests(session)
            unopened = lost.sorted()
            if readData {
                let bytes = records.values.filter { $0.body.hasObjects && !$0.body.isDeleted }
                    .reduce(UInt64(0)) { $0 &+ $1.body.size &* UInt64($1.body.replicas) }
                progress?.addTotal(bytes: bytes)
            }
            // Distinct by bytes (a Set<String> would merge NFC and NFD spellings, two names with two ids).
            wanted = Dictionary(records.values.map { (Array($0.body.name.utf8), $0.body.name) }, uniquingKeysWith: { a, _ in a })
                .sorted { $0.key.lexicographicallyPrecedes($1.key) }.map(\.value)
        } else {
            wanted = names
        }
        progress?.addTotal(files: wanted.count)
        var (files, referenced) = try await judge(wanted, named: !names.isEmpty, inventory: inventory,
                                                  answered: answered, readData: readData, progress: progress)
        // A put or rm of a file between the listing and its manifest lookup makes a whole file look lost: judge the
        // files that look unavailable or damaged once more from a fresh listing before saying so.
        let alarming = files.filter { $0.health >= .unavailable && !$0.stripes.isEmpty }.map(\.name)
        if !alarming.isEmpty {
            let fresh = await ClusterInventory.take(session)
            // Judged as "every file" (named: false): one removed meanwhile is dropped, not an error.
            let (again, more) = try await judge(alarming, named: false, inventory: fresh,
                                                answered: fresh.answeredNodes(session), readData: readData)
            referenced.formUnion(more)
            let rejudged = Dictionary(again.map { ($0.name, $0) }, uniquingKeysWith: { first, _ in first })
            let redone = Set(alarming)
            files = files.compactMap { redone.contains($0.name) ? rejudged[$0.name] : $0 }
        }
        var report = CheckReport(files: files, unreachableNodes: (0..<session.nodeCount).filter { !answered.contains($0) }
                                     .map(session.nodeName), readData: readData)
        if names.isEmpty {
            var count = 0
            var bytes: UInt64 = 0
            for (_, objects) in inventory.objectsByNode {
                for (object, length) in objects where !referenced.contains(object) {
                    count += 1
                    // A node lists a file whose footer fails as UInt64.max, and a lying one may list anything.
                    if length != UInt64.max { bytes = bytes.addingReportingOverflow(length).overflow ? .max : bytes + length }
                }
            }
            report.orphanObjects = count
            report.orphanBytes = bytes
            report.unopenedManifests = unopened
        }
        return (report, answered)
    }

    /// Judges each name from `inventory`; returns the files and every object name an authentic version refers to.
    /// `progress` (the first judgement only) hears each file; for named files their bytes join the total here.
    private func judge(_ wanted: [String], named: Bool, inventory: ClusterInventory, answered: [Int],
                       readData: Bool, progress: TransferProgress? = nil) async throws -> ([FileCheck], Set<String>) {
        let names = named ? wanted : []
        let reader = ManifestReader(session)
        let survey = ReplicaSurvey(session: session, inventory: inventory)
        var files = [FileCheck]()
        var referenced = Set<String>()
        for name in wanted {
            progress?.begin(name)
            defer { progress?.end(name) }
            let lookup = try await reader.lookUp(path: name)
            for version in lookup.versions { referenced.formUnion(Self.objectNames(of: version, session: session)) }
            guard let newest = lookup.newest else {
                if lookup.forgedCopies > 0 {
                    files.append(FileCheck(name: name, removed: false, version: 0, size: 0, health: .damaged,
                                           problems: ["every stored manifest fails authentication or cannot be read"], manifestNodes: [],
                                           stripes: []))
                    continue
                }
                if names.isEmpty { continue }
                throw ClientError.noSuchFile("no file named \"\(name)\" is stored (see edfs ls)")
            }
            let spread = ManifestSpread(lookup: lookup, newest: newest, answered: answered, session: session)
            if newest.body.isDeleted {
                // A removal is settled once every node holds its tombstone; until then it is shown (when asked for).
                guard !names.isEmpty || !spread.isComplete(nodeCount: session.nodeCount) else { continue }
                if !names.isEmpty, spread.isComplete(nodeCount: session.nodeCount) {
                    throw ClientError.noSuchFile("no file named \"\(name)\" is stored (it was removed)")
                }
                files.append(FileCheck(name: name, removed: true, version: newest.header.version, size: 0,
                                       health: .degraded, problems: ["removal not on every node: " + spread.described],
                                       manifestNodes: newest.holders.map(session.nodeName), stripes: []))
                continue
            }
            if named, readData, newest.body.hasObjects {
                progress?.addTotal(bytes: newest.body.size &* UInt64(newest.body.replicas))
            }
            let stripes = newest.body.hasObjects ? try await survey.survey(newest, readData: readData,
                                                                           progress: progress) : []
            files.append(judge(newest, stripes: stripes, spread: spread,
                               refusingNodes: reader.nodesLeavingTooFewVouching(lookup)))
        }
        return (files, referenced)
    }

    /// `refusingNodes`: nodes whose failing manifest copies make a get refuse the file until it is repaired.
    private func judge(_ record: ManifestRecord, stripes: [StripeSurvey], spread: ManifestSpread,
                       refusingNodes: [Int]?) -> FileCheck {
        let replicas = Int(record.body.replicas)
        var health = FileHealth.healthy
        var problems = [String]()
        for stripe in stripes {
            let defects = stripe.replicas.filter { $0.state != .ok }
            if stripe.good.isEmpty {
                health = max(health, defects.contains { $0.state == .unreachable } ? .unavailable : .damaged)
            } else if stripe.good.count < replicas || !defects.isEmpty {
                health = max(health, .degraded)
            }
            if !defects.isEmpty {
                problems.append("stripe \(stripe.stripe): \(stripe.good.count) of \(replicas) good; "
                                + defects.map { "\(session.nodeName($0.node)) \($0.state.rawValue)" }.joined(separator: ", "))
            }
        }
        if !spread.isComplete(nodeCount: session.nodeCount) {
            health = max(health, .degraded)
            problems.append("manifest: " + spread.described)
        }
        if let refusingNodes {
            health = max(health, .degraded)
            problems.append("get refuses it until edfs repair: the manifest copies on "
                            + refusingNodes.map(session.nodeName).joined(separator: ",") + " fail authentication or "
                            + "cannot be read, so fewer than the \(session.config.readQuorum) nodes a read needs vouch "
                            + "for version \(record.header.version)")
        }
        let reports = stripes.map { stripe in
            StripeReport(stripe: stripe.stripe, replicas: stripe.replicas.map {
                ReplicaReport(node: session.nodeName($0.node), state: $0.state, size: $0.storedLength)
            })
        }
        return FileCheck(name: record.body.name, removed: false, version: record.header.version, size: record.body.size,
                         health: health, problems: problems, manifestNodes: record.holders.map(session.nodeName),
                         stripes: reports)
    }

    /// The object names of a version (and, while a re-encrypting rotation is unfinished, of its re-encryption target).
    static func objectNames(of record: ManifestRecord, session: ClusterSession) -> Set<String> {
        guard record.body.hasObjects, let placement = try? record.placement() else { return [] }
        var fileIDs = [record.header.fileID]
        if session.bundles.count == 2, session.keyslot.header.reencrypting,
           let derived = try? ReencryptionTarget.fileID(for: record.header.fileID, target: session.bundles[0]) {
            fileIDs.append(derived)
        }
        var names = Set<String>()
        for fileID in fileIDs {
            for stripe in 0..<min(record.stripeCount, placement.nodeCount) {
                names.insert(StripeHeader.objectName(fileID: fileID, stripeIndex: UInt32(stripe)))
            }
        }
        return names
    }
}

/// Which answering nodes hold a name's newest manifest, and what the others hold instead.
struct ManifestSpread: Sendable {
    var holders: [Int]
    var missing: [Int] = []
    var older: [(node: Int, version: UInt64)] = []
    /// Another authentic manifest at the same version (two writers raced).
    var divergent: [Int] = []
    var forged: [Int] = []
    var unreachable: [Int] = []
    let names: [String]

    init(lookup: ManifestLookup, newest: ManifestRecord, answered: [Int], session: ClusterSession) {
        holders = newest.holders.sorted()
        names = session.config.servers.map(\.name)
        let holding = Set(holders)
        let answering = Set(answered)
        unreachable = (0..<session.nodeCount).filter { !answering.contains($0) }
        for node in answered.sorted() where !holding.contains(node) {
            let copies = lookup.copies.filter { $0.node == node }
            if copies.contains(where: { $0.version == newest.header.version }) {
                divergent.append(node)
            } else if let best = copies.map(\.version).max() {
                older.append((node, best))
            } else if lookup.forged.contains(where: { $0.node == node }) {
                forged.append(node)
            } else {
                missing.append(node)
            }
        }
    }

    /// Every node of the cluster answered and holds the newest manifest.
    func isComplete(nodeCount: Int) -> Bool { holders.count == nodeCount }

    var described: String {
        var parts = [String]()
        if !missing.isEmpty { parts.append("missing on " + missing.map { names[$0] }.joined(separator: ",")) }
        for (node, version) in older { parts.append("\(names[node]) has older version \(version)") }
        if !divergent.isEmpty {
            parts.append("another copy of the same version on " + divergent.map { names[$0] }.joined(separator: ","))
        }
        if !forged.isEmpty { parts.append("forged copy on " + forged.map { names[$0] }.joined(separator: ",")) }
        if !unreachable.isEmpty { parts.append("unknown on " + unreachable.map { names[$0] }.joined(separator: ",")) }
        return parts.joined(separator: "; ")
    }
}
