import EDFSClient
import EDFSTestSupport
import Foundation
import Testing

extension BinaryCommandSuites {
/// The CLI contract through the real binary: exit codes, one-line errors, no partial output.
@Suite("edfs client commands", .serialized)
struct ClientCommandTests {
    @Test("put, ls, get, rm through the binary; errors map to their exit codes")
    func exitCodes() async throws {
        let cluster = try await TestCluster.started()
        let content = try randomContent(150_000)
        let source = try cluster.writeScratch("report.pdf", content)

        let put = try await cluster.run(["put", source])
        #expect(put.status == 0, "\(put.stderr)")
        #expect(put.stdout.contains("stored report.pdf"))

        let ls = try await cluster.run(["ls", "--json"])
        #expect(ls.status == 0)
        #expect(ls.stdout.contains("\"report.pdf\"") && ls.stdout.contains("healthy"))

        let out = cluster.scratch("copy.pdf")
        let get = try await cluster.run(["get", "report.pdf", "-o", out])
        #expect(get.status == 0, "\(get.stderr)")
        #expect(try Array(Data(contentsOf: URL(fileURLWithPath: out))) == content)

        let toStdout = try await cluster.run(["get", "report.pdf", "-o", "-"])
        #expect(toStdout.status == 0 && toStdout.stdout.utf8.count > 0)

        let wrong = try await cluster.run(["ls"], password: "not the password")
        #expect(wrong.status == 77, "\(wrong.stderr)")
        #expect(wrong.stderr.contains("wrong password"))
        #expect(!wrong.stderr.contains("not the password"), "the password never appears in messages")

        let unknown = try await cluster.run(["get", "no-such-name", "-o", cluster.scratch("x")])
        #expect(unknown.status == 66, "\(unknown.stderr)")
        #expect(!FileManager.default.fileExists(atPath: cluster.scratch("x")))

        let missingLocal = try await cluster.run(["put", cluster.scratch("does-not-exist")])
        #expect(missingLocal.status == 66)

        let usage = try await cluster.run(["put", source, source, "--as", "x"])
        #expect(usage.status == 64)

        let rm = try await cluster.run(["rm", "report.pdf"])
        #expect(rm.status == 0, "\(rm.stderr)")
        #expect(try await cluster.run(["rm", "report.pdf"]).status == 66)
    }

    @Test("a wrong password for a new user creates nothing on the nodes")
    func wrongPasswordCreatesNothing() async throws {
        let cluster = try await TestCluster.started()
        let outcome = try await cluster.run(["ls"], password: "guess")
        #expect(outcome.status == 77)
        for name in cluster.cluster.nodeNames {
            let keyslot = cluster.cluster.dataDirectory(name) + "/users/\(cluster.user)/keyslot"
            #expect(!FileManager.default.fileExists(atPath: keyslot))
        }
    }

    @Test("too few nodes for the write rule: exit 69; all replicas corrupt: exit 65 and no output file")
    func unavailableAndCorrupt() async throws {
        let cluster = try await TestCluster.started(nodes: 4, replicas: 2, writeQuorum: 2)
        let source = try cluster.writeScratch("data.bin", try randomContent(80_000))
        #expect(try await cluster.run(["put", source]).status == 0)
        cluster.cluster.stopNode(0)
        let put = try await cluster.run(["put", source, "--as", "other"])
        #expect(put.status == 69, "\(put.stderr)")
        #expect(put.stderr.split(separator: "\n").last?.contains("write quorum") ?? false || put.stderr.contains("needs 2"))
        try cluster.cluster.startNode(0)

        let record = try await cluster.withSession { session in try #require(try await ManifestReader(session).lookUp(path: "data.bin").live) }
        let name = try record.stripeHeader(2).objectName
        for node in try record.nodes(ofStripe: 2) {
            let path = try #require(cluster.objectFiles(node: node)[name])
            var bytes = try Array(Data(contentsOf: URL(fileURLWithPath: path)))
            bytes[100] ^= 1
            try Data(bytes).write(to: URL(fileURLWithPath: path))
        }
        let outDir = cluster.scratch("out")
        try FileManager.default.createDirectory(atPath: outDir, withIntermediateDirectories: true)
        let get = try await cluster.run(["get", "data.bin", "-o", outDir + "/data.bin"])
        #expect(get.status == 65, "\(get.stderr)")
        #expect(try FileManager.default.contentsOfDirectory(atPath: outDir).isEmpty)
    }

    @Test("a client killed in the middle of a put leaves the previous version readable")
    func killedClient() async throws {
        let cluster = try await TestCluster.started(segmentSize: 1 << 20)
        let first = try randomContent(200_000)
        #expect(try await cluster.run(["put", try cluster.writeScratch("v1", first), "--as", "doc"]).status == 0)
        let big = cluster.scratch("big")
        FileManager.default.createFile(atPath: big, contents: nil)
        let handle = try FileHandle(forWritingTo: URL(fileURLWithPath: big))
        for _ in 0..<48 { try handle.write(contentsOf: try randomContent(1 << 20)) }  // 48 MiB: takes a while
        try handle.close()
        let process = Process()
        process.executableURL = try EDFSBinary.url()
        process.arguments = ["put", big, "--as", "doc", "--config", cluster.clientConfigPath]
        process.environment = ProcessInfo.processInfo.environment.merging(["EDFS_PASSWORD": cluster.passwordText]) { $1 }
        process.standardOutput = FileHandle.nullDevice
        process.standardError = FileHandle.nullDevice
        try process.run()
        // Wait until objects of the new version are arriving on a node, then kill the client.
        let deadline = Date().addingTimeInterval(20)
        let before = Set((0..<4).flatMap { cluster.objectFiles(node: $0).keys })
        while Date() < deadline {
            let uploads = (0..<4).flatMap { node in
                (try? FileManager.default.contentsOfDirectory(atPath:
                    cluster.cluster.dataDirectory(cluster.cluster.nodeNames[node]) + "/users/\(cluster.user)/objects")) ?? []
            }
            if Set(uploads).subtracting(before).count > 0 || !process.isRunning { break }
            try await Task.sleep(for: .milliseconds(5))
        }
        kill(process.processIdentifier, SIGKILL)
        await process.exited()
        #expect(process.terminationReason == .uncaughtSignal, "the put must have been killed, not have finished")
        let out = cluster.scratch("out")
        let get = try await cluster.run(["get", "doc", "-o", out])
        #expect(get.status == 0, "\(get.stderr)")
        #expect(try Array(Data(contentsOf: URL(fileURLWithPath: out))) == first)
    }

    @Test("a get interrupted with SIGINT leaves neither the output nor its temporary file")
    func interruptedGet() async throws {
        let cluster = try await TestCluster.started(segmentSize: 1 << 20)
        let big = cluster.scratch("big")
        FileManager.default.createFile(atPath: big, contents: nil)
        let handle = try FileHandle(forWritingTo: URL(fileURLWithPath: big))
        for _ in 0..<64 { try handle.write(contentsOf: try randomContent(1 << 20)) }
        try handle.close()
        #expect(try await cluster.run(["put", big]).status == 0)
        let outDir = cluster.scratch("out")
        try FileManager.default.createDirectory(atPath: outDir, withIntermediateDirectories: true)
        let process = Process()
        process.executableURL = try EDFSBinary.url()
        process.arguments = ["get", "big", "-o", outDir + "/big", "--config", cluster.clientConfigPath]
        process.environment = ProcessInfo.processInfo.environment.merging(["EDFS_PASSWORD": cluster.passwordText]) { $1 }
        process.standardOutput = FileHandle.nullDevice
        process.standardError = FileHandle.nullDevice
        try process.run()
        let deadline = Date().addingTimeInterval(20)
        while process.isRunning && Date() < deadline,
              (try? FileManager.default.contentsOfDirectory(atPath: outDir))?.isEmpty ?? true {
            try await Task.sleep(for: .milliseconds(1))
        }
        kill(process.processIdentifier, SIGINT)
        await process.exited()
        if process.terminationStatus == 0 {
            Issue.record("the get finished before the interrupt; nothing was tested")
        } else {
            #expect(process.terminationStatus == 130)
            #expect(try FileManager.default.contentsOfDirectory(atPath: outDir).isEmpty)
        }
    }

    @Test("edfs demo runs start to finish")
    func demo() async throws {
        let outcome = try await EDFSBinary.run(["demo"])
        #expect(outcome.status == 0, "\(outcome.stderr)")
        #expect(outcome.stdout.contains("byte-exact"))
        #expect(outcome.stdout.contains("neither appears"))
        #expect(!outcome.stdout.contains("MISMATCH"))
    }
}
}
