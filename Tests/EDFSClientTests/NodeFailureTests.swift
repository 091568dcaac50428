import EDFSClient
import EDFSFormat
import EDFSTestSupport
import Foundation
import Testing

/// Nodes stopped and restarted under a client (in process; one case also with real node processes).
@Suite("Client with nodes down", .serialized)
struct NodeFailureTests {
    /// Stores a few files of different sizes; returns name → content.
    private func storeFiles(_ cluster: any ClientCluster) async throws -> [String: [UInt8]] {
        var files = [String: [UInt8]]()
        try await cluster.withSession { session in
            for size in [0, 1, 65_535, 300_001, 1_048_579] {
                let content = try randomContent(size)
                _ = try await PutOperation(session).run(file: cluster.writeScratch("src-\(size)", content), as: "f\(size)")
                files["f\(size)"] = content
            }
        }
        return files
    }

    private func expectAllReadable(_ cluster: any ClientCluster, _ files: [String: [UInt8]], context: String) async throws {
        #expect(try await cluster.mismatchedFiles(files).isEmpty, "with \(context)")
    }

    @Test("R=2: with any one node stopped, every file comes back byte-exact", arguments: ClusterKind.allCases)
    func anySingleNodeDown(kind: ClusterKind) async throws {
        try await withCluster(kind, nodes: 4, replicas: 2) { cluster in
            let files = try await storeFiles(cluster)
            for node in 0..<4 {
                await cluster.stopNode(node)
                try await expectAllReadable(cluster, files, context: "\(cluster.nodeNames[node]) down")
                try await cluster.startNode(node)
            }
        }
    }

    @Test("R=3: with any two nodes stopped, every file comes back byte-exact")
    func anyTwoNodesDown() async throws {
        try await withCluster(.inProcess, nodes: 4, replicas: 3) { cluster in
            let files = try await storeFiles(cluster)
            for first in 0..<4 {
                for second in (first + 1)..<4 {
                    await cluster.stopNode(first, kill: true)
                    await cluster.stopNode(second)
                    try await expectAllReadable(cluster, files, context: "nodes \(first) and \(second) down")
                    try await cluster.startNode(first)
                    try await cluster.startNode(second)
                }
            }
        }
    }

    @Test("R=3: put with one node down, then it returns and another goes down; ls says what is degraded")
    func putDegradedThenSwap() async throws {
        try await withCluster(.inProcess, nodes: 4, replicas: 3) { cluster in
            let content = try randomContent(400_000)
            try await cluster.withSession { _ in }  // the first login, with every node up, creates the user's keys
            await cluster.stopNode(1)
            let result = try await cluster.withSession { session in
                try await PutOperation(session).run(file: cluster.writeScratch("src", content), as: "degraded.bin")
            }
            #expect(!result.missingReplicas.isEmpty)
            #expect(result.missingReplicas.allSatisfy { $0.node == 1 })
            try await cluster.startNode(1)
            await cluster.stopNode(2)
            try await cluster.withSession { session in
                let out = cluster.scratch("out")
                try await GetOperation(session).run(name: "degraded.bin", to: .file(out))
                #expect(try Array(Data(contentsOf: URL(fileURLWithPath: out))) == content)
                let health = try #require(try await ListOperation(session).run().first?.health)
                #expect(health.hasPrefix("degraded: stripe"), "got \(health)")
                #expect(health.hasSuffix("has 1 of 3"), "node 1 missed the put and node 2 is down: got \(health)")
            }
        }
    }

    @Test("too few nodes for the write quorum: notEnoughNodes, and the previous version stays readable")
    func quorumNotMet() async throws {
        try await withCluster(.inProcess, nodes: 4, replicas: 2, writeQuorum: 2) { cluster in
            let first = try randomContent(100_000)
            try await cluster.withSession { session in
                _ = try await PutOperation(session).run(file: cluster.writeScratch("v1", first), as: "doc")
            }
            let objectsBefore = (0..<4).map { Set(cluster.objectFiles(node: $0).keys) }
            await cluster.stopNode(3)
            try await cluster.withSession { session in
                await #expect(throws: ClientError.notEnoughNodes("")) {
                    do {
                        _ = try await PutOperation(session).run(file: cluster.writeScratch("v2", try randomContent(90_000)), as: "doc")
                    } catch let ClientError.notEnoughNodes(text) {
                        #expect(text.contains("previous version is unchanged"))
                        throw ClientError.notEnoughNodes("")
                    }
                }
                let out = cluster.scratch("out")
                try await GetOperation(session).run(name: "doc", to: .file(out))
                #expect(try Array(Data(contentsOf: URL(fileURLWithPath: out))) == first)
            }
            // No orphans of the failed version on the nodes that were up.
            for node in 0..<3 { #expect(Set(cluster.objectFiles(node: node).keys) == objectsBefore[node]) }
        }
    }

    @Test("no keys are made for a new user while a node is unreachable (it could hold the real keyslot)")
    func noNewKeysWithANodeDown() async throws {
        try await withCluster(.inProcess, nodes: 4, replicas: 2) { cluster in
            await cluster.stopNode(2)
            await #expect(throws: ClientError.self) { _ = try await cluster.session() }
            for node in 0..<cluster.nodeCount {
                #expect(!FileManager.default.fileExists(atPath: cluster.userDirectory(node: node) + "/keyslot"))
            }
            try await cluster.startNode(2)
            try await cluster.withSession { _ in }
            await cluster.stopNode(2)
            try await cluster.withSession { session in  // with the keys made, a node down is fine
                #expect(session.reachableNodes.count == 3)
            }
        }
    }

    @Test("rm with a node down writes a tombstone: the file does not come back with the node")
    func removeWhileNodeDown() async throws {
        try await withCluster(.inProcess, nodes: 4, replicas: 2) { cluster in
            try await cluster.withSession { session in
                _ = try await PutOperation(session).run(file: cluster.writeScratch("src", try randomContent(50_000)), as: "old")
            }
            await cluster.stopNode(0)
            try await cluster.withSession { try await RemoveOperation($0).run(name: "old") }
            try await cluster.startNode(0)
            try await cluster.withSession { session in
                let listing = try await ListOperation(session).run()
                #expect(listing.isEmpty)
                await #expect(throws: ClientError.self) { try await GetOperation(session).run(name: "old", to: .file(cluster.scratch("o"))) }
            }
        }
    }

    @Test("a put with two nodes down, then a put with all up: the objects of every older version are removed")
    func noOrphansAfterPartialCommit() async throws {
        try await withCluster(.inProcess, nodes: 4, replicas: 2) { cluster in
            try await cluster.withSession { session in
                _ = try await PutOperation(session).run(file: cluster.writeScratch("v1", try randomContent(300_000)), as: "f")
            }
            // Version 2 commits on DFS1 and DFS3 only (every stripe's pair is adjacent, so each keeps one node);
            // DFS2 and DFS4 keep version 1 and its objects.
            await cluster.stopNode(1)
            await cluster.stopNode(3)
            try await cluster.withSession { session in
                _ = try await PutOperation(session).run(file: cluster.writeScratch("v2", try randomContent(200_000)), as: "f")
            }
            try await cluster.startNode(1)
            try await cluster.startNode(3)
            let content = try randomContent(100_000)
            let live = try await cluster.withSession { session in
                _ = try await PutOperation(session).run(file: cluster.writeScratch("v3", content), as: "f")
                let out = cluster.scratch("out")
                try await GetOperation(session).run(name: "f", to: .file(out))
                #expect(try Array(Data(contentsOf: URL(fileURLWithPath: out))) == content)
                return try #require(try await ManifestReader(session).lookUp(path: "f").live).header.fileID.hex
            }
            for node in 0..<cluster.nodeCount {
                for name in cluster.objectFiles(node: node).keys {
                    #expect(name.hasPrefix(live), "object \(name) on \(cluster.nodeNames[node]) belongs to no live version")
                }
            }
        }
    }
}
