import EDFSClient
import EDFSCrypto
import EDFSDevTools
import EDFSFormat
import EDFSTestSupport
import Foundation
import Testing

/// A value several tasks share under a lock.
final class Shared<Value: Sendable>: Sendable {
    private let mutex: PthreadMutex<Value>
    init(_ value: Value) { mutex = PthreadMutex(value) }
    func withLock<R: Sendable>(_ body: (inout Value) -> R) -> R { mutex.withLock { body(&$0) } }
}

/// Lets the wipe hold the clients between operations: `enter` waits while they are held, `hold` returns once no
/// client is inside an operation.
final class ClientGate: Sendable {
    private let state = PthreadMutex((held: false, busy: 0))

    /// Called by a client before each operation (`leave` after it): waits while the clients are held.
    func enter() async throws {
        while !state.withLock({ s -> Bool in
            if s.held { return false }
            s.busy += 1
            return true
        }) {
            try await Task.sleep(for: .milliseconds(50))
        }
    }

    func leave() { state.withLock { $0.busy -= 1 } }

    /// Holds the clients: returns once every operation under way has ended.
    func hold() async throws {
        state.withLock { $0.held = true }
        while state.withLock({ $0.busy > 0 }) { try await Task.sleep(for: .milliseconds(50)) }
    }

    func release() { state.withLock { $0.held = false } }
}

/// Everything the clients did and saw, to judge every get against what was acknowledged.
final class CampaignLedger: Sendable {
    struct Operation: Sendable {
        enum Kind: Sendable { case put([UInt8]), remove }
        var kind: Kind
        var start: ContinuousClock.Instant
        /// Nil while it runs.
        var end: ContinuousClock.Instant?
        var succeeded = false
    }

    struct Counts: Sendable, CustomStringConvertible {
        var operations: [String: Int] = [:]
        /// Failures by operation and exit code.
        var failures: [String: Int] = [:]
        var wrongBytes = 0
        var resurrected = 0
        var failedPutVisible = 0
        var kills = 0
        var corruptions = 0
        var wipes = 0
        var description: String {
            let ops = operations.sorted { $0.key < $1.key }.map { "\($0.key) \($0.value)" }.joined(separator: ", ")
            let why = failures.sorted { $0.key < $1.key }.map { "\($0.key): \($0.value)" }.joined(separator: ", ")
            return "operations: \(ops) (failures: \(why)); node kills \(kills), corruptions injected \(corruptions), wipes \(wipes); "
                + "gets with wrong bytes \(wrongBytes), gets of a removed file \(resurrected), "
                + "gets that saw a failed put \(failedPutVisible)"
        }
    }

    private let state = PthreadMutex((history: [String: [Operation]](), counts: Counts(), events: [String]()))
    private let origin = ContinuousClock.now

    /// Adds a line to the timeline printed when a campaign fails (faults injected, puts and what they stored).
    func note(_ text: String) {
        let elapsed = (ContinuousClock.now - origin).components
        let seconds = Double(elapsed.seconds) + Double(elapsed.attoseconds) / 1e18
        let line = String(format: "%7.1f s  ", seconds) + text
        state.withLock { $0.events.append(line) }
    }

    /// The timeline, oldest first.
    var events: [String] { state.withLock { $0.events } }

    /// Records an operation as it starts; returns its index for `end`.
    func begin(_ name: String, _ kind: Operation.Kind) -> Int {
        state.withLock { s in
            s.history[name, default: []].append(Operation(kind: kind, start: .now))
            return s.history[name, default: []].count - 1
        }
    }

    func end(_ name: String, _ index: Int, succeeded: Bool, label: String) {
        state.withLock { s in
            s.history[name]?[index].end = .now
            s.history[name]?[index].succeeded = succeeded
            s.counts.operations[label + (succeeded ? " ok" : " failed"), default: 0] += 1
        }
    }

    func count(_ update: @Sendable (inout Counts) -> Void) { state.withLock { update(&$0.counts) } }

    /// Counts a failure by its exit code, for the report (why operations failed, not whether).
    func countFailure(_ label: String, _ error: any Error) {
        let code = ExitStatus.code(for: error)
        state.withLock { $0.counts.failures["\(label) exit \(code)", default: 0] += 1 }
    }

    var counts: Counts { state.withLock { $0.counts } }

    /// Judges bytes a get of `name` (started at `start`) returned: they must be some put's of that name (one still
    /// running counts: its commit may precede its answer), and no removal may have completed before the get began
    /// without a put of the name begun since.
    func judgeGet(_ name: String, bytes: [UInt8], start: ContinuousClock.Instant) {
        state.withLock { s in
            let history = s.history[name] ?? []
            let puts = history.compactMap { op -> (digest: [UInt8], op: Operation)? in
                if case let .put(content) = op.kind { return (Digest.sha256(content), op) }
                return nil
            }
            let digest = Digest.sha256(bytes)
            let matching = puts.filter { $0.digest == digest }.map(\.op)
            if matching.isEmpty {
                s.counts.wrongBytes += 1
            } else if matching.allSatisfy({ $0.end != nil && !$0.succeeded }) {
                s.counts.failedPutVisible += 1
            }
            let removals = history.filter { op in
                if case .remove = op.kind, op.succeeded, let end = op.end { return end < start }
                return false
            }
            // A put still running when the removal started is concurrent with it: its commit may come after the
            // removal's (the two race at one version and the total order keeps the put's), which is a linearizable
            // outcome. Only a put that had ended before the removal began must stay removed.
            if let removal = removals.max(by: { $0.start < $1.start }),
               !puts.contains(where: { $0.op.end.map { $0 > removal.start } ?? true }) {
                s.counts.resurrected += 1
                let at = { (instant: ContinuousClock.Instant) -> String in
                    let parts = (instant - self.origin).components
                    return String(format: "%.3f", Double(parts.seconds) + Double(parts.attoseconds) / 1e18)
                }
                s.events.append("RESURRECTED \(name): a get started at \(at(start)) s returned the bytes of a put "
                                + "\(matching.map { "\(at($0.start))–\($0.end.map(at) ?? "running") s" }) after a removal "
                                + "\(at(removal.start))–\(removal.end.map(at) ?? "?") s")
            }
        }
    }

    /// The states a name may end in: the outcomes of the successful operations no other successful one followed
    /// entirely (nil = removed). Empty when nothing succeeded.
    func acceptableEnds(_ name: String) -> [[UInt8]?] {
        state.withLock { s in
            let done = (s.history[name] ?? []).filter(\.succeeded)
            return done.filter { op in !done.contains { $0.start > (op.end ?? op.start) } }.map { op in
                if case let .put(content) = op.kind { return content }
                return nil
            }
        }
    }

    /// Every put attempted for `name`.
    func attemptedContents(_ name: String) -> [[UInt8]] {
        state.withLock { s in (s.history[name] ?? []).compactMap { if case let .put(c) = $0.kind { c } else { nil } } }
    }

    var names: [String] { state.withLock { Array($0.history.keys).sorted() } }
}

/// A fault campaign against real node processes: concurrent clients put, overwrite, get and remove files from a
/// small pool of names while nodes are SIGKILLed and restarted (never more than R − 1 down), replicas on disk are
/// flipped, truncated and deleted (never the last good one of a stripe), and one node's data folder is wiped; then
/// repair and check. `EDFS_CAMPAIGN_SECONDS` (default 25 per layout) and `EDFS_CAMPAIGN_SEED` set the length and the choices;
/// Scripts/chaos.sh runs the long campaign. A failed campaign prints its timeline (every fault, every put's outcome);
/// `EDFS_CAMPAIGN_TIMELINE=1` prints it always.
@Suite("Fault campaign", .serialized)
struct FaultCampaignTests {
    /// 25 s unless set; under a sanitizer times `TestTime.scale` (at most 4), since each CLI operation there is many
    /// times slower and 25 s may not finish one get.
    static var seconds: Double {
        Double(ProcessInfo.processInfo.environment["EDFS_CAMPAIGN_SECONDS"] ?? "") ?? 25 * min(TestTime.scale, 4)
    }
    static var seed: UInt64 { UInt64(ProcessInfo.processInfo.environment["EDFS_CAMPAIGN_SEED"] ?? "") ?? 20261201 }
    static var maxSize: Int { Int(ProcessInfo.processInfo.environment["EDFS_CAMPAIGN_MAX_BYTES"] ?? "") ?? (1 << 20) }

    @Test("4 nodes R=2 and 5 nodes R=3: no wrong bytes, no removed file returned, nothing lost, healthy after repair",
          .timeLimit(.minutes(30)), arguments: [(4, 2), (5, 3)])
    func campaign(layout: (nodes: Int, replicas: Int)) async throws {
        let cluster = try await TestCluster.started(nodes: layout.nodes, replicas: layout.replicas)
        try await cluster.withSession { _ in }  // the user's keys, made with every node up
        let ledger = CampaignLedger()
        let names = (0..<6).map { "pool/file-\($0)" }
        let seed = Self.seed &+ UInt64(layout.nodes)
        let deadline = ContinuousClock.now + .seconds(Self.seconds)
        let down = Shared(Set<Int>())
        let damaged = Shared(Set<String>())  // object names damaged once: never damaged again (one fault per stripe)
        let gate = ClientGate()  // the wipe holds the clients (see `wipe`)
        print("campaign \(layout.nodes) nodes R=\(layout.replicas): \(Self.seconds) s, seed \(seed), sizes 0…\(Self.maxSize) B")

        try await withThrowingTaskGroup(of: Void.self) { group in
            for client in 0..<3 {
                group.addTask {
                    var random = SplitMix64(state: seed &+ UInt64(client) &* 7919)
                    var session: ClusterSession?
                    var operations = 0
                    while ContinuousClock.now < deadline {
                        try await gate.enter()
                        defer { gate.leave() }
                        if session == nil || operations % 8 == 0 {
                            await session?.close()
                            session = try? await cluster.session()
                        }
                        operations += 1
                        guard let current = session else {
                            try await Task.sleep(for: .milliseconds(200))
                            continue
                        }
                        let name = names[Int.random(in: 0..<names.count, using: &random)]
                        let roll = Int.random(in: 0..<10, using: &random)
                        let start = ContinuousClock.now
                        if roll < 4 {
                            // Empty, tiny, one segment and a bit, or anything up to the campaign's largest size.
                            let size = roll == 0 ? [0, 1, 4096, 65_537][Int.random(in: 0..<4, using: &random)]
                                : Int.random(in: 0...Self.maxSize, using: &random)
                            let content = try randomContent(size)
                            let path = cluster.scratch("client\(client)-src")
                            try Data(content).write(to: URL(fileURLWithPath: path))
                            let index = ledger.begin(name, .put(content))
                            var stored = true
                            do {
                                let result = try await PutOperation(current).run(file: path, as: name)
                                let missing = result.missingReplicas.map { "stripe \($0.stripe) on node \($0.node)" }
                                ledger.note("client \(client): put \(name) v\(result.version) (\(size) B, begun "
                                            + "\(ContinuousClock.now - start) ago) stored; missing replicas: \(missing)")
                            } catch {
                                stored = false
                                ledger.countFailure("put", error)
                                ledger.note("client \(client): put \(name) failed: \(error)")
                            }
                            ledger.end(name, index, succeeded: stored, label: "put")
                            if !stored { await Self.drop(&session) }
                        } else if roll < 9 {
                            let out = cluster.scratch("client\(client)-out")
                            do {
                                try await GetOperation(current).run(name: name, to: .file(out))
                                ledger.judgeGet(name, bytes: try Array(Data(contentsOf: URL(fileURLWithPath: out))), start: start)
                                ledger.count { $0.operations["get ok", default: 0] += 1 }
                            } catch {
                                ledger.count { $0.operations["get failed", default: 0] += 1 }
                                ledger.countFailure("get", error)
                                if case ClientError.noSuchFile = error {} else { await Self.drop(&session) }
                            }
                        } else {
                            let removed: Bool
                            let index = ledger.begin(name, .remove)
                            do {
                                try await RemoveOperation(current).run(name: name)
                                removed = true
                            } catch {
                                removed = false
                                ledger.countFailure("rm", error)
                                if case ClientError.noSuchFile = error {} else { await Self.drop(&session) }
                            }
                            ledger.end(name, index, succeeded: removed, label: "rm")
                        }
                    }
                    await session?.close()
                }
            }
            group.addTask {
                var random = SplitMix64(state: seed ^ 0xC4A05)
                var wiped = false
                while ContinuousClock.now < deadline {
                    try await Task.sleep(for: .milliseconds(Int.random(in: 300...900, using: &random)))
                    let roll = Int.random(in: 0..<10, using: &random)
                    let node = Int.random(in: 0..<layout.nodes, using: &random)
                    if !wiped, ContinuousClock.now > deadline - .seconds(Self.seconds / 2) {
                        wiped = true
                        try await Self.wipe(node, cluster: cluster, down: down, gate: gate, ledger: ledger)
                    } else if roll < 4 {
                        // Kill one more node, if that leaves at most R − 1 down; restart one that is down.
                        if let back = down.withLock({ $0.first }), roll < 2 {
                            try await cluster.startNode(back)
                            down.withLock { _ = $0.remove(back) }
                            ledger.note("node \(back) restarted")
                        } else if down.withLock({ $0.count < layout.replicas - 1 && !$0.contains(node) }) {
                            await cluster.stopNode(node, kill: true)
                            down.withLock { _ = $0.insert(node) }
                            ledger.count { $0.kills += 1 }
                            ledger.note("node \(node) killed")
                        }
                    } else {
                        if Self.damageOneReplica(cluster, layout: layout, down: down.withLock { $0 }, damaged: damaged,
                                                 ledger: ledger, using: &random) {
                            ledger.count { $0.corruptions += 1 }
                        }
                    }
                }
                for node in down.withLock({ Array($0) }) { try await cluster.startNode(node) }
                down.withLock { $0.removeAll() }
            }
            try await group.waitForAll()
        }

        // On a slow machine (a sanitizer build) the loop may end before some fault came round: inject it now, with the
        // clients stopped, so every campaign has each kind.
        if ledger.counts.kills == 0 {
            await cluster.stopNode(0, kill: true)
            ledger.count { $0.kills += 1 }
            ledger.note("node 0 killed and restarted (clients stopped)")
            try await cluster.startNode(0)
        }
        if ledger.counts.corruptions == 0 {
            var random = SplitMix64(state: seed ^ 0xFA17)
            if Self.damageOneReplica(cluster, layout: layout, down: [], damaged: damaged, ledger: ledger,
                                     using: &random) {
                ledger.count { $0.corruptions += 1 }
            }
        }
        if ledger.counts.wipes == 0 {
            try await Self.wipe(layout.nodes - 1, cluster: cluster, down: down, gate: gate, ledger: ledger)
        }

        // Every node up: repair, then a check that reads every replica.
        ledger.note("clients and faults stopped; final repair --read-data begins")
        let repairStart = ContinuousClock.now
        let repairNotices = Notices()
        let repair = try await cluster.withSession(notices: repairNotices) { try await RepairOperation($0).run(readData: true) }
        let repairTime = ContinuousClock.now - repairStart
        let check = try await cluster.withSession { try await CheckOperation($0).run(readData: true) }
        let unhealthy = check.files.filter { $0.health != .healthy }
        // Keyless garbage collection on every node (stopped: the scrub takes the data folder), then measure orphans.
        for node in 0..<layout.nodes { await cluster.stopNode(node) }
        for node in 0..<layout.nodes {
            let scrub = try await cluster.run(["node", "scrub", "--data", cluster.dataDirectory(node: node), "--grace", "0s"])
            #expect(scrub.status == 0 || scrub.status == 65, "scrub of \(cluster.nodeNames[node]): \(scrub.stderr)")
        }
        for node in 0..<layout.nodes { try await cluster.startNode(node) }
        let afterNotices = Notices()
        let after: CheckReport
        do {
            after = try await cluster.withSession(notices: afterNotices) { try await CheckOperation($0).run() }
        } catch {
            Issue.record("check after the scrubs failed: \(error); \(afterNotices.all)")
            throw error
        }

        // Nothing acknowledged is lost: each name ends in one of the states its last operations allow.
        var lost = [String]()
        try await cluster.withSession { session in
            for name in ledger.names {
                let acceptable = ledger.acceptableEnds(name)
                let out = cluster.scratch("final-out")
                let got: [UInt8]?
                do {
                    try await GetOperation(session).run(name: name, to: .file(out), heal: false)
                    got = try Array(Data(contentsOf: URL(fileURLWithPath: out)))
                } catch ClientError.noSuchFile {
                    got = nil
                } catch {
                    lost.append("\(name): \(error)")
                    continue
                }
                let attempted = ledger.attemptedContents(name)
                guard acceptable.isEmpty || acceptable.contains(where: { $0 == got }) else {
                    let what = got.map { bytes in attempted.contains(bytes) ? "an older or failed put" : "unknown bytes" }
                        ?? "removed"
                    lost.append("\(name): ends \(what), not one of its last acknowledged states")
                    continue
                }
            }
        }
        if !lost.isEmpty || !unhealthy.isEmpty || ledger.counts.resurrected > 0 || ledger.counts.wrongBytes > 0
            || ProcessInfo.processInfo.environment["EDFS_CAMPAIGN_TIMELINE"] != nil {
            // What a failure needs to be judged: each bad file's newest version and file id (its objects are named
            // `<file id>.<stripe>`), and the timeline of faults and puts.
            let bad = Set(unhealthy.map(\.name) + lost.compactMap { $0.split(separator: ":").first.map(String.init) })
            try await cluster.withSession { session in
                for name in bad.sorted() {
                    let newest = try await ManifestReader(session).lookUp(path: name).newest
                    let problems = unhealthy.first { $0.name == name }?.problems ?? []
                    print("campaign: \(name): newest v\(newest?.header.version ?? 0), file id "
                          + "\(newest?.header.fileID.hex ?? "none"), missing replicas recorded "
                          + "\(newest?.body.missingReplicas.map { "\($0.stripe)@\($0.node)" } ?? []); \(problems)")
                }
            }
            print("campaign timeline:\n" + ledger.events.joined(separator: "\n"))
        }
        let live = after.files.reduce(UInt64(0)) { $0 + $1.size } * UInt64(layout.replicas)
        let orphanBytes = after.orphanBytes ?? 0
        let counts = ledger.counts
        print("campaign \(layout.nodes) nodes R=\(layout.replicas): \(counts)")
        print("campaign \(layout.nodes) nodes R=\(layout.replicas): repair \(repairTime), \(repair.files.count) files "
              + "repaired, \(repair.files.reduce(0) { $0 + $1.replicasCopied.count }) replicas copied; after repair "
              + "\(unhealthy.count) of \(check.files.count) files not healthy; lost \(lost.count); orphan bytes after GC "
              + "\(orphanBytes) of \(live) live stored bytes")
        #expect(counts.wrongBytes == 0)
        #expect(counts.resurrected == 0)
        #expect(lost.isEmpty, "\(lost)")
        #expect(unhealthy.isEmpty, "\(unhealthy.map { "\($0.name): \($0.problems)" })")
        #expect(after.worst == .healthy)
        #expect(Double(orphanBytes) <= 0.05 * Double(max(live, 1)), "orphans \(orphanBytes) B of \(live) B live")
        #expect(counts.operations["get ok", default: 0] > 0 && counts.operations["put ok", default: 0] > 0)
        #expect(counts.kills > 0 && counts.corruptions > 0 && counts.wipes == 1)
    }

    /// Closes a session that met a failure (its links may point at a node that was killed); the next operation opens
    /// a new one. Dropping it without closing would leave its connections counting against the per-user cap.
    private static func drop(_ session: inout ClusterSession?) async {
        await session?.close()
        session = nil
    }

    /// Wipes node `node`'s whole data folder the way a replaced disk would, with the cluster made whole first (so the
    /// wipe is the one fault), and repairs right after, as an operator would.
    ///
    /// The clients are held from before the first repair until after the last (`gate`): the first repair can only make
    /// whole what is committed when it looks, and skips a file another client changes meanwhile. With the clients
    /// running, a put begun while a node was down (its stripes there stored once: WriteQuorum 1 of R=2) committed
    /// after the repair had passed its name, and a damaged replica of a skipped file stayed damaged; the wipe of the
    /// node holding such a stripe's one good replica was a second fault on that stripe, both replicas gone — a loss
    /// the campaign caused, not edfs (seen under TSan, where fewer operations follow the wipe to overwrite the file).
    private static func wipe(_ node: Int, cluster: TestCluster, down: Shared<Set<Int>>, gate: ClientGate,
                             ledger: CampaignLedger) async throws {
        try await gate.hold()
        defer { gate.release() }
        for back in down.withLock({ Array($0) }) { try await cluster.startNode(back) }
        down.withLock { $0.removeAll() }
        ledger.note("wipe of node \(node): every node up, repair --read-data begins")
        // Reading every replica, so a flipped byte is found before the wipe takes the good copy.
        let before = Notices()
        do {
            _ = try await cluster.withSession(notices: before) { try await RepairOperation($0).run(readData: true) }
        } catch {
            Issue.record("repair before the wipe failed: \(error); \(before.all)")
            throw error
        }
        // The rule this wipe must keep: no stripe has its every good replica on this node.
        let survey = try await cluster.withSession { try await CheckOperation($0).run() }
        let wiped = cluster.nodeNames[node]
        let lastCopies = survey.files.flatMap { file in
            file.stripes.filter { $0.replicas.filter { $0.state == .ok }.allSatisfy { $0.node == wiped } }
                .map { "\(file.name) v\(file.version) stripe \($0.stripe)" }
        }
        #expect(lastCopies.isEmpty, "the wipe of \(wiped) would take the last good replica of \(lastCopies)")
        ledger.note("wipe of node \(node): repair done (notices: \(before.all)); stripes whose every good replica is on "
                    + "it: \(lastCopies); node killed, its data folder removed")
        await cluster.stopNode(node, kill: true)
        try FileManager.default.removeItem(atPath: cluster.dataDirectory(node: node))
        try await cluster.startNode(node)
        ledger.count { $0.wipes += 1 }
        _ = try await cluster.withSession { try await RepairOperation($0).run() }
        ledger.note("wipe of node \(node): node restarted empty and repaired")
    }

    /// Damages one replica on disk (flip a byte, truncate, or delete), only of an object that every one of its R nodes
    /// holds intact right now, on a node that is up: never more than one fault per stripe.
    private static func damageOneReplica(_ cluster: TestCluster, layout: (nodes: Int, replicas: Int), down: Set<Int>,
                                         damaged: Shared<Set<String>>, ledger: CampaignLedger,
                                         using random: inout SplitMix64) -> Bool {
        var holders = [String: [Int]]()
        for node in 0..<layout.nodes {
            for name in cluster.objectFiles(node: node).keys { holders[name, default: []].append(node) }
        }
        let excluded = damaged.withLock { $0 }
        let whole = holders.filter { $0.value.count == layout.replicas && down.isDisjoint(with: $0.value)
            && !excluded.contains($0.key) }.keys.sorted()
        guard !whole.isEmpty else { return false }
        let name = whole[Int.random(in: 0..<whole.count, using: &random)]
        let nodes = holders[name] ?? []
        let node = nodes[Int.random(in: 0..<nodes.count, using: &random)]
        damaged.withLock { _ = $0.insert(name) }
        guard let path = cluster.objectFiles(node: node)[name],
              let size = (try? FileManager.default.attributesOfItem(atPath: path)[.size] as? Int), size > 1 else { return false }
        let kind = Int.random(in: 0..<3, using: &random)
        switch kind {
        case 0: (try? DiskDamage.flipByte(path, at: UInt64(Int.random(in: 0..<size, using: &random)))) ?? ()
        case 1: (try? DiskDamage.truncate(path, to: UInt64(Int.random(in: 0..<size, using: &random)))) ?? ()
        default: try? FileManager.default.removeItem(atPath: path)
        }
        ledger.note("object \(name) on node \(node) \(["flipped", "truncated", "deleted"][kind]) (held by nodes \(nodes))")
        return true
    }
}
