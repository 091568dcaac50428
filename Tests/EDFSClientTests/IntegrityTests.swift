import EDFSClient
import EDFSFormat
import EDFSTestSupport
import Foundation
import Testing

/// Stored replicas damaged on disk under a running cluster.
@Suite("Client against damaged replicas", .serialized)
struct IntegrityTests {
    @Test("one flipped byte in one replica, one truncated replica: get returns the right bytes and says so",
          arguments: ClusterKind.allCases)
    func oneBadReplica(kind: ClusterKind) async throws {
        try await withCluster(kind, nodes: 4, replicas: 2) { cluster in
            let content = try randomContent(600_000)
            try await cluster.withSession { session in
                _ = try await PutOperation(session).run(file: cluster.writeScratch("src", content), as: "f")
            }
            // The client reads each stripe's primary replica first: damage exactly those, so failover must happen.
            let record = try await cluster.withSession { session in try #require(try await ManifestReader(session).lookUp(path: "f").live) }
            let stripe0 = try record.stripeHeader(0).objectName
            let stripe1 = try record.stripeHeader(1).objectName
            try DiskDamage.flipByte(try #require(cluster.objectFiles(node: try record.nodes(ofStripe: 0)[0])[stripe0]), at: 1000)
            let cutPath = try #require(cluster.objectFiles(node: try record.nodes(ofStripe: 1)[0])[stripe1])
            let handle = try FileHandle(forUpdating: URL(fileURLWithPath: cutPath))
            try handle.truncate(atOffset: 5000)
            try handle.close()

            let notices = Notices()
            try await cluster.withSession(notices: notices) { session in
                for _ in 0..<2 {  // twice: whichever replica order the client takes, the result is right
                    let out = cluster.scratch("out")
                    try await GetOperation(session).run(name: "f", to: .file(out))
                    #expect(try Array(Data(contentsOf: URL(fileURLWithPath: out))) == content)
                }
            }
            #expect(notices.all.contains { $0.contains("stripe 0") && $0.contains("failed") }, "warnings: \(notices.all)")
            #expect(notices.all.contains { $0.contains("stripe 1") && $0.contains("failed") }, "warnings: \(notices.all)")
        }
    }

    @Test("a replica replaced by another valid object (node checksum intact) fails GCM/header checks and is skipped")
    func swappedObjectIsDetectedByTheClient() async throws {
        try await withCluster(.inProcess, nodes: 4, replicas: 2) { cluster in
            let content = try randomContent(300_000)
            try await cluster.withSession { session in
                _ = try await PutOperation(session).run(file: cluster.writeScratch("a", content), as: "a")
                _ = try await PutOperation(session).run(file: cluster.writeScratch("b", try randomContent(300_000)), as: "b")
            }
            // Put file b's stripe-0 object in place of file a's stripe-0 object on a's primary node: the node's block
            // checksums match (it is a whole valid stored file), so only the client's verification can notice.
            let (a, b) = try await cluster.withSession { session in
                (try #require(try await ManifestReader(session).lookUp(path: "a").live), try #require(try await ManifestReader(session).lookUp(path: "b").live))
            }
            let primary = try a.nodes(ofStripe: 0)[0]
            let target = try #require(cluster.objectFiles(node: primary)[try a.stripeHeader(0).objectName])
            let donorNode = try b.nodes(ofStripe: 0)[0]
            let donor = try #require(cluster.objectFiles(node: donorNode)[try b.stripeHeader(0).objectName])
            try FileManager.default.removeItem(atPath: target)
            try FileManager.default.copyItem(atPath: donor, toPath: target)
            let notices = Notices()
            try await cluster.withSession(notices: notices) { session in
                let out = cluster.scratch("out")
                try await GetOperation(session).run(name: "a", to: .file(out))
                #expect(try Array(Data(contentsOf: URL(fileURLWithPath: out))) == content)
            }
            #expect(notices.all.contains { $0.contains("stripe 0") && $0.contains("failed") }, "warnings: \(notices.all)")
        }
    }

    @Test("every replica of a stripe missing on reachable nodes: integrity error (65), not 'unreachable' (69)")
    func allReplicasMissing() async throws {
        try await withCluster(.inProcess, nodes: 4, replicas: 2) { cluster in
            try await cluster.withSession { session in
                _ = try await PutOperation(session).run(file: cluster.writeScratch("src", try randomContent(500_000)), as: "f")
            }
            let (name, nodes) = try #require(cluster.objectHolders().sorted { $0.key < $1.key }.first)
            for node in nodes { try FileManager.default.removeItem(atPath: try #require(cluster.objectFiles(node: node)[name])) }
            try await cluster.withSession { session in
                do {
                    try await GetOperation(session).run(name: "f", to: .file(cluster.scratch("out")))
                    Issue.record("a get with a stripe lost everywhere succeeded")
                } catch let error as ClientError {
                    #expect(error.exitCode == 65, "\(error)")
                }
            }
        }
    }

    @Test("every replica of a stripe corrupt: integrity error and no output file at all")
    func allReplicasCorrupt() async throws {
        try await withCluster(.inProcess, nodes: 4, replicas: 2) { cluster in
            try await cluster.withSession { session in
                _ = try await PutOperation(session).run(file: cluster.writeScratch("src", try randomContent(500_000)), as: "f")
            }
            let (name, nodes) = try #require(cluster.objectHolders().sorted { $0.key < $1.key }.first)
            for node in nodes { try DiskDamage.flipByte(try #require(cluster.objectFiles(node: node)[name]), at: 200) }
            let outDir = cluster.scratch("outdir")
            try FileManager.default.createDirectory(atPath: outDir, withIntermediateDirectories: true)
            try await cluster.withSession { session in
                await #expect(throws: ClientError.integrity("")) {
                    do { try await GetOperation(session).run(name: "f", to: .file(outDir + "/f")) } catch ClientError.integrity {
                        throw ClientError.integrity("")
                    }
                }
            }
            #expect(try FileManager.default.contentsOfDirectory(atPath: outDir).isEmpty, "no partial or temporary file")
        }
    }

    @Test("a node holding a forged manifest cannot redirect a get")
    func forgedManifestIsIgnored() async throws {
        try await withCluster(.inProcess, nodes: 4, replicas: 2) { cluster in
            let content = try randomContent(20_000)
            try await cluster.withSession { session in
                _ = try await PutOperation(session).run(file: cluster.writeScratch("src", content), as: "m")
            }
            // Corrupt the sealed body of one node's manifest copy (keeping its header): it must be ignored, not trusted.
            let root = cluster.dataDirectory(node: 0) + "/users/\(cluster.user)/manifests"
            let manifest = try #require(try FileManager.default.contentsOfDirectory(atPath: root).first { !$0.hasPrefix(".") })
            try DiskDamage.flipByte(root + "/" + manifest, at: UInt64(ManifestHeader.byteCount + 20))
            let notices = Notices()
            try await cluster.withSession(notices: notices) { session in
                let out = cluster.scratch("out")
                try await GetOperation(session).run(name: "m", to: .file(out))
                #expect(try Array(Data(contentsOf: URL(fileURLWithPath: out))) == content)
            }
        }
    }
}
