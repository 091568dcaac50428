import EDFSClient
import EDFSCrypto
import EDFSFormat
import EDFSNode
import EDFSTestSupport
import Foundation
import NIOCore
import Testing

/// Many files of one put committed together (`CommitBatch`: one GET_MANIFESTS and one PUT_MANIFESTS per node for the
/// files that reach their commit at the same time), against real in-process nodes. Every file keeps the outcome a
/// commit of its own would give it: byte-exact gets, a definite answer in a same-version race, stale and failed
/// nodes, a node lying in its per-item answers, and nodes that predate PUT_MANIFESTS.
@Suite("Batched manifest commits")
struct BatchCommitTests {
    /// What the test does to one node's PUT_MANIFESTS: forwards to the real link, or answers otherwise.
    typealias BulkHook = @Sendable (_ node: Int, _ items: [WireManifestWrite], _ link: any NodeLink) async throws
        -> [(any Error)?]

    /// A session whose links pass through `InterposedLink` (counting manifest writes, `hook` on PUT_MANIFESTS).
    private func session(_ cluster: InProcessCluster, notices: Notices = Notices(), counts: WriteCounts,
                         hook: BulkHook? = nil,
                         lookups: (@Sendable (_ node: Int) throws -> Void)? = nil) async throws -> ClusterSession {
        let password = SecureBytes(copying: Array(cluster.passwordText.utf8))
        let base = try cluster.connector(user: cluster.user, derivation: PasswordDerivation(password: password))
        return try await ClusterSession.open(
            config: cluster.config, user: cluster.user, derivation: PasswordDerivation(password: password),
            connector: { index, server in
                InterposedLink(inner: try await base(index, server), node: index, counts: counts, hook: hook,
                               lookups: lookups)
            }, kdfIterations: 100_000, notices: notices)
    }

    /// Puts every file at once, as `edfs put` of a folder does, through one `CommitBatch`; returns each name's result
    /// or error.
    private func putAll(_ session: ClusterSession, _ files: [(name: String, path: String)],
                        committing: (@Sendable () -> Void)? = nil) async -> [String: Result<PutResult, any Error>] {
        let batch = CommitBatch(session)
        let lookups = await ManifestReader(session).lookUp(paths: files.map(\.name))
        return await withTaskGroup(of: (String, Result<PutResult, any Error>).self) { group in
            for (file, lookup) in zip(files, lookups) {
                group.addTask {
                    do {
                        return (file.name, .success(try await PutOperation(session).run(
                            file: file.path, as: file.name, lookedUp: lookup, batch: batch, committing: committing)))
                    } catch {
                        return (file.name, .failure(error))
                    }
                }
            }
            var results = [String: Result<PutResult, any Error>]()
            for await (name, result) in group { results[name] = result }
            return results
        }
    }

    /// `count` random files of a few KiB in the cluster's scratch folder.
    private func makeFiles(_ cluster: InProcessCluster, _ count: Int, prefix: String = "f") throws
        -> (files: [(name: String, path: String)], contents: [String: [UInt8]]) {
        var files = [(name: String, path: String)]()
        var contents = [String: [UInt8]]()
        for index in 0..<count {
            let name = "\(prefix)\(index)"
            let content = try randomContent(1000 + 97 * index)
            files.append((name, try cluster.writeScratch("src-" + name, content)))
            contents[name] = content
        }
        return (files, contents)
    }

    /// Every file reads back byte for byte.
    private func expectReadable(_ cluster: InProcessCluster, _ contents: [String: [UInt8]]) async throws {
        try await cluster.withSession { session in
            for (name, content) in contents.sorted(by: { $0.key < $1.key }) {
                let out = cluster.scratch("out")
                try await GetOperation(session).run(name: name, to: .file(out))
                #expect(try Array(Data(contentsOf: URL(fileURLWithPath: out))) == content, "\(name)")
            }
        }
    }

    /// Manifest files stored on node `index`.
    private func manifestCount(_ cluster: InProcessCluster, node index: Int) -> Int {
        let names = (try? FileManager.default.contentsOfDirectory(atPath: cluster.userDirectory(node: index) + "/manifests")) ?? []
        return names.filter { !$0.hasPrefix(".") }.count
    }

    @Test("a folder's files commit in shared PUT_MANIFESTS requests and read back byte for byte from every node")
    func folderThroughTheBulkPath() async throws {
        let cluster = try InProcessCluster(nodes: 4)
        defer { Task { await cluster.shutdown() } }
        try await cluster.withSession { _ in }  // the user's keys
        let fileCount = 40
        let (files, contents) = try makeFiles(cluster, fileCount)
        let counts = WriteCounts()
        // The first PUT_MANIFESTS of each node waits until every file has reached its commit: the others must then
        // go together.
        let arrived = LockedCounter()
        let seen = PthreadMutex(Set<Int>())
        let session = try await session(cluster, counts: counts) { node, items, link in
            if seen.withLock({ $0.insert(node).inserted }) {
                let deadline = ContinuousClock.now + TestTime.scaled(.seconds(30))
                while arrived.value < fileCount, ContinuousClock.now < deadline { try await Task.sleep(for: .milliseconds(5)) }
            }
            return try await link.putManifests(items)
        }
        let results = await putAll(session, files) { arrived.increment() }
        await session.close()
        for (name, result) in results.sorted(by: { $0.key < $1.key }) {
            let stored = try result.get()
            #expect(stored.manifestNodes == [0, 1, 2, 3], "\(name)")
        }
        #expect(counts.singleWrites == 0, "a file committed with a single PUT_MANIFEST")
        #expect(counts.largestBulk >= fileCount / 2, "the files did not commit together: \(counts.largestBulk)")
        for node in 0..<4 { #expect(manifestCount(cluster, node: node) == fileCount, "node \(node)") }
        try await expectReadable(cluster, contents)
    }

    @Test("two clients put one name at the same version through their batches: each gets a definite answer, one wins")
    func sameVersionRaceThroughTheBulkPath() async throws {
        let cluster = try InProcessCluster(nodes: 4)
        defer { Task { await cluster.shutdown() } }
        try await cluster.withSession { _ in }
        let notices = Notices()
        let turns = Turnstile()
        // Writer w's PUT_MANIFESTS reaches nodes 0 and 1 in the order (0, 1), nodes 2 and 3 in the order (1, 0): each
        // writer's manifest lands first on two nodes and is refused as stale on the other two.
        func writer(_ w: Int) async throws -> ClusterSession {
            try await session(cluster, notices: notices, counts: WriteCounts()) { node, items, link in
                await turns.wait(node: node, turn: node < 2 ? w : 1 - w)
                do {
                    let answers = try await link.putManifests(items)
                    await turns.done(node: node)
                    return answers
                } catch {
                    await turns.done(node: node)
                    throw error
                }
            }
        }
        let writers = [try await writer(0), try await writer(1)]
        let contents = [try randomContent(20_000), try randomContent(21_000)]
        let paths = [try cluster.writeScratch("w0", contents[0]), try cluster.writeScratch("w1", contents[1])]
        let outcomes = await withTaskGroup(of: (Int, Bool).self) { group in
            for index in 0..<2 {
                group.addTask {
                    let results = await putAll(writers[index], [("race", paths[index])])
                    return (index, (try? results["race"]?.get()) != nil)
                }
            }
            var result = [Bool](repeating: false, count: 2)
            for await (index, stored) in group { result[index] = stored }
            return result
        }
        for writer in writers { await writer.close() }
        #expect(outcomes.filter { $0 }.count == 1, "exactly one writer must be told its version is stored: \(outcomes)")
        #expect(notices.all.contains { $0.contains("stored the same version at the same time") }, "\(notices.all)")
        let winner = try #require(outcomes.firstIndex(of: true))
        try await expectReadable(cluster, ["race": contents[winner]])
        try await cluster.withSession { session in
            let report = try await CheckOperation(session).run()
            #expect(report.worst == .healthy, "\(report.files.map(\.problems))")
            #expect(report.orphanObjects == 0)
            let lookup = try await ManifestReader(session).lookUp(path: "race")
            #expect(lookup.versions.count == 1 && lookup.newest?.holders == [0, 1, 2, 3])
        }
    }

    @Test("a node refuses some items as stale and another loses its reply: every file still gets its own right outcome")
    func staleItemsAndAFailedNode() async throws {
        let cluster = try InProcessCluster(nodes: 4)
        defer { Task { await cluster.shutdown() } }
        try await cluster.withSession { _ in }
        let (files, contents) = try makeFiles(cluster, 12)
        let notices = Notices()
        let oddIDs = PthreadMutex(Set<String>())  // the manifest ids of the odd-numbered files, once the keys are known
        let session = try await session(cluster, notices: notices, counts: WriteCounts()) { node, items, link in
            switch node {
            case 2:
                // Stale for the items of odd-numbered files (not written); the rest forwarded.
                let odd = oddIDs.withLock { ids in items.map { ids.contains($0.id) } }
                let forwarded = try await link.putManifests(items.indices.filter { !odd[$0] }.map { items[$0] })
                var next = forwarded.makeIterator()
                return items.indices.map { odd[$0] ? NodeLinkError.stale : (next.next() ?? nil) }
            case 3:
                // The node stores them, then its answer is lost.
                _ = try await link.putManifests(items)
                throw NodeLinkError.refused(.ioError, "reply lost")
            default:
                return try await link.putManifests(items)
            }
        }
        let reader = ManifestReader(session)
        let odd = Set(files.indices.filter { $0 % 2 == 1 }.flatMap { reader.manifestIDs(path: files[$0].name).map(\.hex) })
        oddIDs.withLock { $0 = odd }
        let results = await putAll(session, files)
        await session.close()
        for (index, file) in files.enumerated() {
            let stored = try #require(try results[file.name]?.get(), "\(file.name)")
            // Odd files: stale on node 2, which settles as a race this put wins (no other version exists), and node 2
            // is given the manifest; node 3's lost answer counts as not stored there.
            #expect(stored.manifestNodes == [0, 1, 2], "\(file.name) (\(index)): \(stored.manifestNodes)")
        }
        #expect(notices.all.contains { $0.contains("manifest not stored") })
        // Each item's answer was taken for that item alone: exactly the odd files met a "race" on node 2, and node 2
        // holds every file's manifest (the odd ones given to it by the race's settling).
        for (index, file) in files.enumerated() {
            let raced = notices.all.contains { $0.hasPrefix("\(file.name): another client stored the same version") }
            #expect(raced == (index % 2 == 1), "\(file.name): \(notices.all)")
        }
        #expect(manifestCount(cluster, node: 2) == files.count)
        try await expectReadable(cluster, contents)
    }

    @Test("a commit short of its quorum whose replies were lost on nodes that stored it: undone there too, the previous version stands",
          arguments: [false, true])
    func lostRepliesBelowTheQuorum(nodeGoesSilent: Bool) async throws {
        let cluster = try InProcessCluster(nodes: 4)
        defer { Task { await cluster.shutdown() } }
        let (files, contents) = try makeFiles(cluster, 6)
        try await cluster.withSession { session in
            for file in files { _ = try await PutOperation(session).run(file: file.path, as: file.name) }
        }
        let (newFiles, _) = try makeFiles(cluster, 6, prefix: "new")
        let replaced = zip(files, newFiles).map { (name: $0.name, path: $1.path) }
        // Node 0 stores; node 1 refuses (it answered: not stored); nodes 2 and 3 store, then answer an error all the
        // same (as a node whose folder flush failed after its renames does). With `nodeGoesSilent`, node 3's answer
        // is lost instead and it answers nothing more: whether it holds the manifest cannot be known.
        let silent = PthreadMutex(false)
        let notices = Notices()
        let hook: BulkHook = { node, items, link in
            switch node {
            case 1: return items.map { _ in NodeLinkError.refused(.storageFull, "no space") }
            case 2, 3:
                _ = try await link.putManifests(items)
                if node == 3 && nodeGoesSilent {
                    silent.withLock { $0 = true }
                    throw NodeLinkError.unreachable("reply lost")
                }
                throw NodeLinkError.refused(.ioError, "folder flush failed")
            default: return try await link.putManifests(items)
            }
        }
        let session = try await session(cluster, notices: notices, counts: WriteCounts(), hook: hook, lookups: { node in
            if node == 3, silent.withLock({ $0 }) { throw NodeLinkError.unreachable("no answer") }
        })
        let results = await putAll(session, replaced)
        await session.close()
        var unanswered = 0
        for file in files {
            guard case let .failure(error)? = results[file.name] else {
                Issue.record("\(file.name): the put must fail, its commit fell short of the quorum")
                continue
            }
            let text = String(describing: error)
            if nodeGoesSilent, text.contains("did not answer whether they stored it") {
                #expect(text.contains("DFS4"), "\(text)")
                unanswered += 1
            } else {
                // Without a silent node; or a file whose commit went out after node 3 was lost, so never to it.
                #expect(text.contains("the previous version is unchanged"), "\(text)")
            }
        }
        // The files of the request whose answer node 3 lost cannot know whether it stored them.
        #expect(nodeGoesSilent ? unanswered > 0 : unanswered == 0)
        if nodeGoesSilent {
            // Node 3 still holds the new version, and its data was kept: every get is byte-exact, of one version.
            try await cluster.withSession { session in
                for (file, new) in zip(files, newFiles) {
                    let out = cluster.scratch("out")
                    try await GetOperation(session).run(name: file.name, to: .file(out))
                    let got = try Array(Data(contentsOf: URL(fileURLWithPath: out)))
                    let newContent = try Array(Data(contentsOf: URL(fileURLWithPath: new.path)))
                    #expect(got == contents[file.name] || got == newContent, "\(file.name)")
                }
            }
        } else {
            // Undone on nodes 2 and 3 as well: no node holds the new version, and the previous one reads everywhere.
            try await cluster.withSession { session in
                for file in files {
                    let lookup = try await ManifestReader(session).lookUp(path: file.name)
                    #expect(lookup.versions.count == 1 && lookup.newest?.header.version == 1, "\(file.name)")
                }
            }
            try await expectReadable(cluster, contents)
        }
    }

    @Test("a node that claims to have stored items it did not: only its own copies are wrong, every file reads")
    func lyingPerItemAnswers() async throws {
        let cluster = try InProcessCluster(nodes: 4)
        defer { Task { await cluster.shutdown() } }
        try await cluster.withSession { _ in }
        let (files, contents) = try makeFiles(cluster, 10)
        let session = try await session(cluster, counts: WriteCounts()) { node, items, link in
            switch node {
            case 1: return Array(repeating: nil, count: items.count)  // "stored", nothing written
            case 2: return Array(try await link.putManifests(items).dropLast())  // one answer short
            default: return try await link.putManifests(items)
            }
        }
        let results = await putAll(session, files)
        await session.close()
        var shortOnNode2 = 0
        for file in files {
            let stored = try #require(try results[file.name]?.get(), "\(file.name)")
            #expect(stored.manifestNodes.contains(0) && stored.manifestNodes.contains(3) && stored.manifestNodes.contains(1))
            if !stored.manifestNodes.contains(2) { shortOnNode2 += 1 }
        }
        // The missing answer fails only the item at its position (one per request), never another file.
        #expect(shortOnNode2 >= 1 && shortOnNode2 < files.count, "\(shortOnNode2)")
        #expect(manifestCount(cluster, node: 1) == 0)
        try await expectReadable(cluster, contents)
    }

    @Test("nodes that predate PUT_MANIFESTS get single PUT_MANIFESTs: the put and its gets are the same")
    func olderNodes() async throws {
        let cluster = try InProcessCluster(nodes: 4, adjust: { index, configuration in
            configuration.servesBulkManifestWrites = index >= 2  // nodes 0 and 1 are old
        })
        defer { Task { await cluster.shutdown() } }
        try await cluster.withSession { _ in }
        let (files, contents) = try makeFiles(cluster, 16)
        let counts = WriteCounts()
        let session = try await session(cluster, counts: counts)
        let results = await putAll(session, files)
        await session.close()
        for file in files {
            #expect(try #require(try results[file.name]?.get()).manifestNodes == [0, 1, 2, 3], "\(file.name)")
        }
        #expect(counts.bulkCalls > 0)
        for node in 0..<4 { #expect(manifestCount(cluster, node: node) == files.count, "node \(node)") }
        try await expectReadable(cluster, contents)
    }
}

/// Counts of a session's manifest writes.
final class WriteCounts: Sendable {
    private let state = PthreadMutex((single: 0, bulk: 0, largest: 0))
    var singleWrites: Int { state.withLock { $0.single } }
    var bulkCalls: Int { state.withLock { $0.bulk } }
    var largestBulk: Int { state.withLock { $0.largest } }
    func single() { state.withLock { $0.single += 1 } }
    func bulk(_ count: Int) {
        state.withLock {
            $0.bulk += 1
            $0.largest = max($0.largest, count)
        }
    }
}

final class LockedCounter: Sendable {
    private let state = PthreadMutex(0)
    var value: Int { state.withLock { $0 } }
    func increment() { state.withLock { $0 += 1 } }
}

/// Lets two callers through each node in turn order, once both have arrived there: turn t goes once t callers are
/// done at that node.
actor Turnstile {
    private var arrived: [Int: Int] = [:]
    private var finished: [Int: Int] = [:]
    private var waiting: [Int: [(turn: Int, continuation: CheckedContinuation<Void, Never>)]] = [:]

    func wait(node: Int, turn: Int) async {
        arrived[node, default: 0] += 1
        await withCheckedContinuation {
            waiting[node, default: []].append((turn, $0))
            release(node)
        }
    }

    func done(node: Int) {
        finished[node, default: 0] += 1
        release(node)
    }

    private func release(_ node: Int) {
        guard arrived[node, default: 0] >= 2 else { return }
        let ready = waiting[node, default: []].filter { $0.turn <= finished[node, default: 0] }
        waiting[node] = waiting[node, default: []].filter { $0.turn > finished[node, default: 0] }
        for entry in ready { entry.continuation.resume() }
    }
}

/// A real link with its PUT_MANIFESTS passed through a test's hook, and its manifest writes counted.
final class InterposedLink: NodeLink {
    let inner: any NodeLink
    let node: Int
    let counts: WriteCounts
    let hook: BatchCommitTests.BulkHook?
    /// Called before every manifest read (GET_MANIFEST, GET_MANIFESTS); a throw fails the read.
    let lookups: (@Sendable (_ node: Int) throws -> Void)?

    init(inner: any NodeLink, node: Int, counts: WriteCounts, hook: BatchCommitTests.BulkHook?,
         lookups: (@Sendable (_ node: Int) throws -> Void)? = nil) {
        self.inner = inner
        self.node = node
        self.counts = counts
        self.hook = hook
        self.lookups = lookups
    }

    var nodeName: String { inner.nodeName }
    var provenVerifier: LoginVerifier? { inner.provenVerifier }
    func beginPut(object name: String, length: UInt64) async throws -> any ObjectUpload {
        try await inner.beginPut(object: name, length: length)
    }
    func get(object name: String, offset: UInt64, length: UInt64?) async throws -> any ObjectDownload {
        try await inner.get(object: name, offset: offset, length: length)
    }
    func delete(object name: String) async throws { try await inner.delete(object: name) }
    func listObjects() async throws -> [String: UInt64] { try await inner.listObjects() }
    func listManifests() async throws -> [String: UInt64] { try await inner.listManifests() }
    func getManifest(_ id: String) async throws -> [UInt8]? {
        try lookups?(node)
        return try await inner.getManifest(id)
    }
    func getManifests(_ ids: [String]) async throws -> [String: WireManifestAnswer] {
        try lookups?(node)
        return try await inner.getManifests(ids)
    }
    func putManifest(_ id: String, bytes: [UInt8]) async throws {
        counts.single()
        try await inner.putManifest(id, bytes: bytes)
    }
    func putManifests(_ items: [WireManifestWrite]) async throws -> [(any Error)?] {
        counts.bulk(items.count)
        if let hook { return try await hook(node, items, inner) }
        return try await inner.putManifests(items)
    }
    func deleteManifest(_ id: String, maxVersion: UInt64) async throws { try await inner.deleteManifest(id, maxVersion: maxVersion) }
    func getKeyslot() async throws -> [UInt8]? { try await inner.getKeyslot() }
    func putKeyslot(_ bytes: [UInt8]) async throws { try await inner.putKeyslot(bytes) }
    func setLoginVerifier(_ verifier: LoginVerifier) async throws { try await inner.setLoginVerifier(verifier) }
    func keyslotHistory() async throws -> [[UInt8]] { try await inner.keyslotHistory() }
    func status() async throws -> WireNodeStatus { try await inner.status() }
    func close() async { await inner.close() }
}
