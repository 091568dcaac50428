import EDFSClient
import EDFSTestSupport
import Foundation
import Testing

extension BinaryCommandSuites {
/// `edfs status` and `edfs node scrub` through the real binary against real node processes.
@Suite("edfs status and edfs node scrub", .serialized)
struct StatusAndScrubCommandTests {
    @Test("status: every node up is healthy (exit 0); one stopped is degraded (exit 3); too few is down (exit 69)")
    func clusterStates() async throws {
        let cluster = try await TestCluster.started(nodes: 4, replicas: 2)  // commit quorum 2, read quorum 3
        let source = try cluster.writeScratch("a.bin", try randomContent(50_000))
        #expect(try await cluster.run(["put", source]).status == 0)

        let healthy = try await cluster.run(["status"])
        #expect(healthy.status == 0, "\(healthy.stderr)")
        let lines = healthy.stdout.split(separator: "\n").map(String.init)
        #expect(lines.last == "state: healthy")
        #expect(lines.count == 5)
        for (index, name) in cluster.cluster.nodeNames.enumerated() {
            let line = try #require(lines.first { $0.hasPrefix(name + " ") })
            #expect(line.contains("127.0.0.1:\(cluster.cluster.port(index))"))
            #expect(line.contains("  up  version ") && line.contains("scrub never"), "\(line)")
        }

        let json = try await cluster.run(["status", "--json"])
        #expect(json.status == 0)
        let object = try #require(try JSONSerialization.jsonObject(with: Data(json.stdout.utf8)) as? [String: Any])
        #expect(object["state"] as? String == "healthy")
        let nodes = try #require(object["nodes"] as? [[String: Any]])
        #expect(nodes.count == 4 && nodes.allSatisfy { $0["reachable"] as? Bool == true })
        let stored = nodes.compactMap { ($0["status"] as? [String: Any])?["storedBytes"] as? Int }.reduce(0, +)
        #expect(stored > 2 * 50_000, "two replicas of the file's bytes are stored")

        cluster.cluster.stopNode(0)
        let degraded = try await cluster.run(["status"])
        #expect(degraded.status == 3, "\(degraded.stdout)\(degraded.stderr)")
        let degradedLines = degraded.stdout.split(separator: "\n").map(String.init)
        #expect(degradedLines.last == "state: degraded")
        let down = try #require(degradedLines.first { $0.hasPrefix(cluster.cluster.nodeNames[0] + " ") })
        #expect(down.hasSuffix("unreachable: connection refused"), "\(down)")

        cluster.cluster.stopNode(1)
        let gone = try await cluster.run(["status", "--json"])
        #expect(gone.status == 69, "\(gone.stdout)\(gone.stderr)")
        #expect(gone.stdout.contains("\"state\":\"down\""))

        let wrong = try await cluster.run(["status"], password: "not it")
        #expect(wrong.status == 77, "a wrong password is not an outage: \(wrong.stderr)")
    }

    @Test("a user locked out by wrong passwords: status says so and exits 77, never down (attack finding)")
    func lockedOutIsNotDown() async throws {
        let cluster = try await TestCluster.started(nodes: 2, replicas: 1)
        #expect(try await cluster.run(["status"]).status == 0)
        for _ in 0..<6 { _ = try await cluster.run(["status"], password: "a wrong guess") }
        let locked = try await cluster.run(["status"])
        #expect(locked.status == 77, "\(locked.stdout)\(locked.stderr)")
        #expect(locked.stderr.contains("too many failed logins") && locked.stderr.contains("5 minutes"), "\(locked.stderr)")
        #expect(!locked.stdout.contains("state: down"))
    }

    @Test("node scrub: refuses a running node and a folder that is no data folder; quarantines; exit 65 then 0")
    func offlineScrub() async throws {
        let cluster = try await TestCluster.started(nodes: 2, replicas: 2)
        let source = try cluster.writeScratch("b.bin", try randomContent(200_000))
        #expect(try await cluster.run(["put", source]).status == 0)
        let name = cluster.cluster.nodeNames[0]
        let data = cluster.cluster.dataDirectory(name)

        let running = try await EDFSBinary.run(["node", "scrub", "--data", data])
        #expect(running.status == 69, "\(running.stderr)")
        #expect(running.stderr.contains("a node is running"))
        let notData = try await EDFSBinary.run(["node", "scrub", "--data", cluster.directory])
        #expect(notData.status == 66 && notData.stderr.contains("not a node data folder"), "\(notData.stderr)")

        cluster.cluster.stopNode(0)
        let objects = try #require(cluster.objectFiles(node: 0).sorted { $0.key < $1.key }.first)
        var bytes = try Array(Data(contentsOf: URL(fileURLWithPath: objects.value)))
        bytes[100] ^= 0x40
        try Data(bytes).write(to: URL(fileURLWithPath: objects.value))

        let found = try await EDFSBinary.run(["node", "scrub", "--data", data])
        #expect(found.status == 65, "\(found.stdout)\(found.stderr)")
        #expect(found.stdout.contains("corrupt:     1") && found.stdout.contains("users/\(cluster.user)/objects/\(objects.key)"))
        #expect(found.stdout.contains("quarantine/\(cluster.user)/objects/\(objects.key)@"))
        #expect(!FileManager.default.fileExists(atPath: objects.value))

        let clean = try await EDFSBinary.run(["node", "scrub", "--data", data, "--json"])
        #expect(clean.status == 0, "\(clean.stdout)\(clean.stderr)")
        let report = try #require(try JSONSerialization.jsonObject(with: Data(clean.stdout.utf8)) as? [String: Any])
        #expect((report["corrupt"] as? [String])?.isEmpty == true)
        #expect((report["filesChecked"] as? Int ?? 0) > 0)

        // The node starts again on the scrubbed folder, and the file is still readable from the other replica.
        try cluster.cluster.startNode(0)
        let out = cluster.scratch("b.out")
        #expect(try await cluster.run(["get", "b.bin", "-o", out]).status == 0)
    }
}
}
