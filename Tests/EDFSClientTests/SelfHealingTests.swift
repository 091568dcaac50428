import EDFSClient
import EDFSFormat
import EDFSTestSupport
import Foundation
import Testing

/// check, repair, heal on read and the commit/read quorums, against damage done on the nodes' disks.
@Suite("Self-healing", .serialized)
struct SelfHealingTests {
    /// Stores files of several sizes; returns name → content.
    private func storeFiles(_ cluster: any ClientCluster, count: Int = 4) async throws -> [String: [UInt8]] {
        var files = [String: [UInt8]]()
        try await cluster.withSession { session in
            for index in 0..<count {
                let content = try randomContent([0, 1_000, 200_001, 700_000][index % 4] + index)
                _ = try await PutOperation(session).run(file: cluster.writeScratch("src\(index)", content), as: "f\(index)")
                files["f\(index)"] = content
            }
        }
        return files
    }

    private func expectAllReadable(_ cluster: any ClientCluster, _ files: [String: [UInt8]], context: String) async throws {
        #expect(try await cluster.mismatchedFiles(files).isEmpty, "with \(context)")
    }

    private func record(_ cluster: any ClientCluster, _ name: String) async throws -> ManifestRecord {
        try await cluster.withSession { session in try #require(try await ManifestReader(session).lookUp(path: name).live) }
    }

    private func check(_ cluster: any ClientCluster, readData: Bool = false) async throws -> CheckReport {
        try await cluster.withSession { try await CheckOperation($0).run(readData: readData) }
    }

    /// The state check reports for one replica.
    private func state(_ report: CheckReport, file: String, stripe: Int, node: String) -> ReplicaState? {
        report.files.first { $0.name == file }?.stripes.first { $0.stripe == stripe }?.replicas.first { $0.node == node }?.state
    }

    @Test("check: a clean cluster is healthy; each injected defect is found where it is")
    func checkFindsEachDefect() async throws {
        try await withCluster(.inProcess, nodes: 4, replicas: 2) { cluster in
            let files = try await storeFiles(cluster)
            let clean = try await check(cluster, readData: true)
            #expect(clean.files.count == files.count)
            #expect(clean.files.allSatisfy { $0.health == .healthy }, "\(clean.files.map(\.problems))")
            #expect(clean.worst == .healthy)
            #expect(clean.orphanObjects == 0)

            // f2: stripe 0 missing on its primary, stripe 1 truncated, stripe 2 flipped, stripe 3 replaced by f3's object.
            let f2 = try await record(cluster, "f2")
            let f3 = try await record(cluster, "f3")
            func replica(_ record: ManifestRecord, _ stripe: Int, _ which: Int) throws -> (node: Int, path: String) {
                let node = try record.nodes(ofStripe: stripe)[which]
                return (node, try #require(cluster.objectFiles(node: node)[try record.stripeHeader(stripe).objectName]))
            }
            let missing = try replica(f2, 0, 0)
            try FileManager.default.removeItem(atPath: missing.path)
            let short = try replica(f2, 1, 0)
            try DiskDamage.truncate(short.path, to: 3_000)
            let flipped = try replica(f2, 2, 1)
            try DiskDamage.flipByte(flipped.path, at: 5_000)
            let swapped = try replica(f2, 3, 0)
            let other = try replica(f3, 3, 0)
            try FileManager.default.removeItem(atPath: swapped.path)
            try FileManager.default.copyItem(atPath: other.path, toPath: swapped.path)

            let listed = try await check(cluster)
            let names = cluster.nodeNames
            #expect(state(listed, file: "f2", stripe: 0, node: names[missing.node]) == .missing)
            let shortState = state(listed, file: "f2", stripe: 1, node: names[short.node])
            // A cut file's footer no longer checks out: the node lists it as damaged (length 2^64-1).
            #expect(shortState == .corrupt || shortState == .wrongSize, "got \(String(describing: shortState))")
            // Without reading, a flipped byte is invisible; with it, it is corrupt.
            #expect(state(listed, file: "f2", stripe: 2, node: names[flipped.node]) == .ok)
            let read = try await check(cluster, readData: true)
            #expect(state(read, file: "f2", stripe: 2, node: names[flipped.node]) == .corrupt)
            let swappedState = state(read, file: "f2", stripe: 3, node: names[swapped.node])
            #expect(swappedState == .corrupt || swappedState == .wrongSize, "got \(String(describing: swappedState))")
            #expect(read.files.first { $0.name == "f2" }?.health == .degraded)
            #expect(read.files.filter { $0.name != "f2" }.allSatisfy { $0.health == .healthy })
            #expect(ExitStatus.code(for: read.worst) == ExitStatus.degraded)

            // A stray object no manifest names, with a cut footer: counted as an orphan, never a crash (the campaign
            // found an overflow summing the node's 2^64-1 for such a file).
            let strayPath = cluster.objectFiles(node: 0).values.sorted().first.map { URL(fileURLWithPath: $0).deletingLastPathComponent().path }
            let source = try #require(cluster.objectFiles(node: 0).values.sorted().first)
            for _ in 0..<2 {
                let stray = try #require(strayPath) + "/" + StripeHeader.objectName(fileID: try FileID.random(), stripeIndex: 0)
                try FileManager.default.copyItem(atPath: source, toPath: stray)
                try DiskDamage.truncate(stray, to: 100)
            }
            let withStray = try await check(cluster)
            #expect((withStray.orphanObjects ?? 0) >= 2)

            // Every replica of one stripe gone: damaged.
            for node in try f3.nodes(ofStripe: 0) {
                if let path = cluster.objectFiles(node: node)[try f3.stripeHeader(0).objectName] {
                    try FileManager.default.removeItem(atPath: path)
                }
            }
            let lost = try await check(cluster)
            #expect(lost.files.first { $0.name == "f3" }?.health == .damaged)
            #expect(ExitStatus.code(for: lost.worst) == ExitStatus.dataError)
        }
    }

    @Test("repair after a node's whole data folder is wiped: every file healthy, then any other node can be down")
    func repairAfterWipe() async throws {
        try await withCluster(.inProcess, nodes: 4, replicas: 2) { cluster in
            let files = try await storeFiles(cluster)
            await cluster.stopNode(2)
            try FileManager.default.removeItem(atPath: cluster.dataDirectory(node: 2))
            try await cluster.startNode(2)
            let before = try await check(cluster)
            #expect(before.worst == .degraded)
            let dry = try await cluster.withSession { try await RepairOperation($0).run(dryRun: true) }
            #expect(!dry.files.isEmpty)
            #expect(try await check(cluster).worst == .degraded, "a dry run changes nothing")

            let report = try await cluster.withSession { try await RepairOperation($0).run() }
            #expect(report.worst == .healthy, "\(report.files)")
            #expect(report.files.contains { !$0.replicasCopied.isEmpty })
            let after = try await check(cluster, readData: true)
            #expect(after.files.allSatisfy { $0.health == .healthy }, "\(after.files.map(\.problems))")
            for node in [0, 1, 3] {
                await cluster.stopNode(node)
                try await expectAllReadable(cluster, files, context: "\(cluster.nodeNames[node]) down after repair")
                try await cluster.startNode(node)
            }
            // Idempotent: a second repair finds nothing to do.
            let again = try await cluster.withSession { try await RepairOperation($0).run() }
            #expect(again.files.isEmpty)
        }
    }

    @Test("R=3: repair pays the debt of puts made with a node down; then any two other nodes can be down")
    func repairAfterPutsWithANodeDown() async throws {
        try await withCluster(.inProcess, nodes: 5, replicas: 3) { cluster in
            try await cluster.withSession { _ in }  // keys made with every node up
            await cluster.stopNode(1)
            let files = try await storeFiles(cluster)
            try await cluster.startNode(1)
            let before = try await check(cluster)
            #expect(before.files.allSatisfy { $0.health == .degraded })
            let report = try await cluster.withSession { try await RepairOperation($0).run() }
            #expect(report.worst == .healthy, "\(report.files)")
            #expect(try await check(cluster).worst == .healthy)
            for (first, second) in [(0, 2), (2, 3), (3, 4), (0, 4)] {
                await cluster.stopNode(first)
                await cluster.stopNode(second)
                try await expectAllReadable(cluster, files, context: "nodes \(first) and \(second) down after repair")
                try await cluster.startNode(first)
                try await cluster.startNode(second)
            }
        }
    }

    @Test("heal on read: a get that skipped a corrupt replica replaces it; with heal off it stays corrupt")
    func healOnRead() async throws {
        try await withCluster(.inProcess, nodes: 4, replicas: 2) { cluster in
            let content = try randomContent(300_000)
            try await cluster.withSession { session in
                _ = try await PutOperation(session).run(file: cluster.writeScratch("src", content), as: "h")
            }
            let h = try await record(cluster, "h")
            let primary = try h.nodes(ofStripe: 1)[0]
            let path = try #require(cluster.objectFiles(node: primary)[try h.stripeHeader(1).objectName])
            try DiskDamage.flipByte(path, at: 4_000)
            let name = cluster.nodeNames[primary]

            try await cluster.withSession { session in
                _ = try await GetOperation(session).run(name: "h", to: .file(cluster.scratch("o1")), heal: false)
            }
            #expect(state(try await check(cluster, readData: true), file: "h", stripe: 1, node: name) == .corrupt)
            let notices = Notices()
            try await cluster.withSession(notices: notices) { session in
                _ = try await GetOperation(session).run(name: "h", to: .file(cluster.scratch("o2")))
            }
            #expect(try Array(Data(contentsOf: URL(fileURLWithPath: cluster.scratch("o2")))) == content)
            #expect(notices.all.contains { $0.contains("replaced the bad replica") }, "\(notices.all)")
            #expect(state(try await check(cluster, readData: true), file: "h", stripe: 1, node: name) == .ok)
        }
    }

    @Test("R=3: rm with all but the commit quorum down, then those back and the others down: the file stays removed")
    func removalIsNeverMissedByARead() async throws {
        try await withCluster(.inProcess, nodes: 5, replicas: 3) { cluster in
            let content = try randomContent(100_000)
            try await cluster.withSession { session in
                _ = try await PutOperation(session).run(file: cluster.writeScratch("src", content), as: "gone")
                _ = try await PutOperation(session).run(file: cluster.writeScratch("src", content), as: "kept")
            }
            // Three of five down: fewer than the commit quorum (3) reachable; the removal is refused, nothing changes.
            for node in [2, 3, 4] { await cluster.stopNode(node) }
            try await cluster.withSession { session in
                await #expect(throws: ClientError.self) { try await RemoveOperation(session).run(name: "gone") }
                return ()
            }
            try await cluster.startNode(2)
            // Two down: the removal reaches exactly the commit quorum.
            try await cluster.withSession { try await RemoveOperation($0).run(name: "gone") }
            for node in [3, 4] { try await cluster.startNode(node) }
            for node in [0, 1, 2] { await cluster.stopNode(node) }
            // Only the two nodes that missed the removal answer: fewer than the read quorum; nothing is returned.
            try await cluster.withSession { session in
                do {
                    try await GetOperation(session).run(name: "gone", to: .file(cluster.scratch("o")))
                    Issue.record("a get with only the nodes that missed the removal returned the file")
                } catch let error as ClientError {
                    #expect(error.exitCode == ExitStatus.unavailable, "\(error)")
                }
                await #expect(throws: ClientError.self) { _ = try await ListOperation(session).run() }
            }
            #expect(!FileManager.default.fileExists(atPath: cluster.scratch("o")))
            for node in [0, 1, 2] { try await cluster.startNode(node) }
            try await cluster.withSession { session in
                let names = try await ListOperation(session).run().map(\.name)
                #expect(names == ["kept"])
                await #expect(throws: ClientError.self) {
                    try await GetOperation(session).run(name: "gone", to: .file(cluster.scratch("o")))
                }
            }
            // repair spreads the removal (a tombstone, kept for good) to every node and removes the old objects there.
            let report = try await cluster.withSession { try await RepairOperation($0).run() }
            #expect(report.worst == .healthy, "\(report.files)")
            for node in 0..<5 {
                let root = cluster.userDirectory(node: node) + "/manifests"
                let manifests = (try? FileManager.default.contentsOfDirectory(atPath: root))?.filter { !$0.hasPrefix(".") } ?? []
                #expect(manifests.count == 2, "\(cluster.nodeNames[node]) keeps \(manifests): kept's and gone's tombstone")
            }
            let afterRepair = try await cluster.withSession { try await CheckOperation($0).run() }
            #expect(afterRepair.orphanObjects == 0, "the removed file's objects on the nodes that missed the rm")
            for node in [0, 1] { await cluster.stopNode(node) }
            try await cluster.withSession { session in
                let names = try await ListOperation(session).run().map(\.name)
                #expect(names == ["kept"])
            }
        }
    }

    @Test("a put whose manifest reaches fewer than R nodes is undone: the previous version stays the one read")
    func putBelowTheCommitQuorumIsUndone() async throws {
        try await withCluster(.inProcess, nodes: 4, replicas: 3, writeQuorum: 1) { cluster in
            let first = try randomContent(50_000)
            try await cluster.withSession { session in
                _ = try await PutOperation(session).run(file: cluster.writeScratch("v1", first), as: "doc")
            }
            await cluster.stopNode(0)
            await cluster.stopNode(1)
            try await cluster.withSession { session in
                do {
                    _ = try await PutOperation(session).run(file: cluster.writeScratch("v2", try randomContent(40_000)), as: "doc")
                    Issue.record("a put with 2 of 4 nodes reachable and R=3 succeeded")
                } catch let error as ClientError {
                    #expect(error.exitCode == ExitStatus.unavailable, "\(error)")
                }
            }
            try await cluster.startNode(0)
            try await cluster.startNode(1)
            try await cluster.withSession { session in
                let out = cluster.scratch("out")
                try await GetOperation(session).run(name: "doc", to: .file(out))
                #expect(try Array(Data(contentsOf: URL(fileURLWithPath: out))) == first)
            }
        }
    }

    @Test("two writers of one name at once: each gets a definite answer, the nodes end with one manifest, no orphans")
    func concurrentWritersSettle() async throws {
        try await withCluster(.inProcess, nodes: 4, replicas: 2) { cluster in
            try await cluster.withSession { _ in }
            let notices = Notices()
            let writers = [try await cluster.session(notices: notices), try await cluster.session(notices: notices)]
            var races = 0
            for round in 0..<8 {
                let contents = [try randomContent(20_000 + round), try randomContent(21_000 + round)]
                let paths = [try cluster.writeScratch("w0", contents[0]), try cluster.writeScratch("w1", contents[1])]
                let outcomes = await withTaskGroup(of: (Int, Bool).self) { group in
                    for index in 0..<2 {
                        group.addTask {
                            do {
                                _ = try await PutOperation(writers[index]).run(file: paths[index], as: "race")
                                return (index, true)
                            } catch {
                                print("round \(round) writer \(index): \(error)")
                                return (index, false)
                            }
                        }
                    }
                    var result = [Bool](repeating: false, count: 2)
                    for await (index, stored) in group { result[index] = stored }
                    return result
                }
                if outcomes.contains(false) { races += 1 }
                #expect(outcomes.contains(true), "round \(round): neither writer stored its version")
                let out = cluster.scratch("race-out")
                try await GetOperation(writers[0]).run(name: "race", to: .file(out), heal: false)
                let read = try Array(Data(contentsOf: URL(fileURLWithPath: out)))
                let stored = (0..<2).filter { outcomes[$0] }.map { contents[$0] }
                let isStored = stored.contains(read)
                #expect(isStored, "round \(round): the version read (\(read.count) B) is not one a writer was told is stored (\(outcomes))")
                let report = try await CheckOperation(writers[0]).run()
                #expect(report.worst == .healthy, "round \(round): \(report.files.map(\.problems))")
                #expect(report.orphanObjects == 0, "round \(round): \(report.orphanObjects ?? -1) orphan objects")
            }
            for writer in writers { await writer.close() }
            let sameVersion = notices.all.filter { $0.contains("stored the same version at the same time") }.count
            print("concurrent writers: \(races) of 8 rounds had a loser, \(sameVersion) same-version races settled")
        }
    }

    @Test("rm with every node up, then one node puts the old manifest back (a backup, a lying node): still removed")
    func replayedManifestAfterRemovalStaysRemoved() async throws {
        try await withCluster(.inProcess, nodes: 4, replicas: 2) { cluster in
            let content = try randomContent(90_000)
            try await cluster.withSession { session in
                _ = try await PutOperation(session).run(file: cluster.writeScratch("src", content), as: "old")
            }
            let (old, manifestFile) = try await cluster.withSession { session in
                let record = try #require(try await ManifestReader(session).lookUp(path: "old").live)
                return (record, cluster.userDirectory(node: 0) + "/manifests/" + record.id.hex)
            }
            // The node's whole files as they were: manifest and objects (what a backup restores).
            let saved = try Data(contentsOf: URL(fileURLWithPath: manifestFile))
            var objects = [(String, Data)]()
            for node in 0..<4 {
                for (name, path) in cluster.objectFiles(node: node) where name.hasPrefix(old.header.fileID.hex) {
                    objects.append((path, try Data(contentsOf: URL(fileURLWithPath: path))))
                }
            }
            try await cluster.withSession { try await RemoveOperation($0).run(name: "old") }
            try saved.write(to: URL(fileURLWithPath: manifestFile))
            for (path, bytes) in objects { try bytes.write(to: URL(fileURLWithPath: path)) }
            try await cluster.withSession { session in
                #expect(try await ListOperation(session).run().isEmpty)
                await #expect(throws: ClientError.self) {
                    try await GetOperation(session).run(name: "old", to: .file(cluster.scratch("o")))
                }
                _ = try await RepairOperation(session).run()
                #expect(try await ListOperation(session).run().isEmpty, "repair must not spread the replayed version")
            }
            #expect(!FileManager.default.fileExists(atPath: cluster.scratch("o")))
        }
    }
}
