import EDFSClient
import EDFSTestSupport
import Foundation
import Testing

extension BinaryCommandSuites {
/// Failures a user meets reaching nodes, through the binary: one line each that says what happened and what to do,
/// with the exit code of docs/CLI.md, and no library internals (issue 14, item 1).
@Suite("edfs error messages", .serialized)
struct ErrorMessageTests {
    /// Library text that must never reach a user's error line.
    private static let internals = ["SingleConnectionFailure", "errno", "BoringSSL", "NIOSSL", "handshakeFailed",
                                    ".build/checkouts", "IOError", "NIOConnectionError"]

    /// Runs a bash command line; its exit status.
    private func shell(_ arguments: [String]) async throws -> Int32 {
        try await SystemCommand.run(["bash"] + arguments).status
    }

    private func expectClean(_ text: String, sourceLocation: SourceLocation = #_sourceLocation) {
        for marker in Self.internals {
            #expect(!text.contains(marker), "library internals in: \(text)", sourceLocation: sourceLocation)
        }
    }

    @Test("a node down, every node down, a CA that did not sign the nodes: one actionable line, exit 69 when nothing is reachable")
    func unreachableNodes() async throws {
        let cluster = try await TestCluster.started()
        let config = try String(contentsOfFile: cluster.clientConfigPath, encoding: .utf8)
        #expect(try await cluster.run(["ls"]).status == 0)

        cluster.cluster.stopNode(3)
        let oneDown = try await cluster.run(["ls"])
        #expect(oneDown.status == 0, "\(oneDown.stderr)")
        #expect(oneDown.stderr.contains("node DFS4 unavailable") && oneDown.stderr.contains("connection refused"),
                "\(oneDown.stderr)")
        expectClean(oneDown.stderr)

        for index in 0..<3 { cluster.cluster.stopNode(index) }
        let allDown = try await cluster.run(["ls"])
        #expect(allDown.status == 69)
        #expect(allDown.stderr.split(separator: "\n").count == 1, "\(allDown.stderr)")
        #expect(allDown.stderr.contains("no node reachable: DFS1, DFS2, DFS3, DFS4: connection refused"), "\(allDown.stderr)")
        expectClean(allDown.stderr)
        try cluster.cluster.start()

        // Another CA: the client refuses every node's certificate, and says why.
        let other = cluster.scratch("other-keys")
        let made = try await EDFSBinary.run(["certs", "init", "--dir", other, "--nodes", "DFS1,DFS2,DFS3,DFS4"])
        #expect(made.status == 0, "\(made.stderr)")
        let wrongCA = cluster.scratch("wrong-ca.conf")
        let lines = config.split(separator: "\n", omittingEmptySubsequences: false).map { line in
            line.hasPrefix("CA:") ? "CA: \(other)/ca.crt" : String(line)
        }
        try lines.joined(separator: "\n").write(toFile: wrongCA, atomically: true, encoding: .utf8)
        let refused = try await EDFSBinary.run(["ls", "--config", wrongCA], environment: ["EDFS_PASSWORD": cluster.passwordText])
        #expect(refused.status == 69)
        #expect(refused.stderr.contains("DFS1, DFS2, DFS3, DFS4: TLS: the node's certificate is not signed by this config's CA"),
                "\(refused.stderr)")
        #expect(refused.stderr.split(separator: "\n").count == 1)
        expectClean(refused.stderr)
        // The node's log says what the peer did, not the TLS library's text.
        let log = try String(contentsOfFile: cluster.directory + "/DFS1.log", encoding: .utf8)
        #expect(log.contains("the client does not trust this node's certificate"), "\(log.suffix(600))")
        expectClean(String(log.split(separator: "\n").last { $0.contains("does not trust") } ?? ""))
    }

    @Test("a mistyped command or option gets the nearest one suggested; parameters are checked before any prompt")
    func suggestions() async throws {
        for (arguments, expected) in [(["pt"], "did you mean put?"), (["chek"], "did you mean check?"),
                                      (["key", "rotat"], "did you mean rotate?"), (["get", "--out", "x", "y"], "did you mean --output?"),
                                      (["ls", "--jsn"], "did you mean --json?"), (["get", "--forc", "y"], "did you mean --force?")] {
            let outcome = try await EDFSBinary.run(arguments)
            #expect(outcome.status == 64 && outcome.stderr.contains(expected), "\(arguments): \(outcome.stderr)")
            #expect(outcome.stderr.split(separator: "\n").count == 1 && outcome.stderr.hasPrefix("edfs: "))
        }
        let far = try await EDFSBinary.run(["zzzz"])
        #expect(far.status == 64 && !far.stderr.contains("did you mean"), "\(far.stderr)")
        #expect(!(try await EDFSBinary.run(["get", "--out", "x", "y"])).stderr.contains("--quiet"))
        // Bad cluster parameters are refused before the password prompt (a typed password never goes astray).
        for arguments in [["cluster", "up", "--nodes", "0"], ["cluster", "up", "--replicas", "9"],
                          ["cluster", "up", "--base-port", "65535"]] {
            let outcome = try await EDFSBinary.run(arguments)
            #expect(outcome.status == 64 && !outcome.stderr.contains("password"), "\(arguments): \(outcome.stderr)")
        }
    }

    @Test("cluster up on a port in use says which port and how to pick another")
    func portInUse() async throws {
        let cluster = try await TestCluster.started(nodes: 1, replicas: 1)
        let taken = cluster.cluster.port(0)
        let folder = cluster.scratch("second")
        let password = try cluster.writeScratch("password", Array("another password".utf8))
        let second = try await EDFSBinary.run(["cluster", "up", "--nodes", "1", "--replicas", "1", "--dir", folder,
                                               "--base-port", "\(taken)", "--password-file", password])
        #expect(second.status == 69, "\(second.stderr)")  // docs/CLI.md: a node that cannot listen
        #expect(second.stderr.contains("127.0.0.1:\(taken) is in use by another program") && second.stderr.contains("--base-port"),
                "\(second.stderr)")
        #expect(!second.stderr.contains("edfs: node DFS1 failed to start: edfs:"), "one prefix: \(second.stderr)")
        expectClean(second.stderr)
    }

    @Test("a plain-TCP HTTP probe and an HTTPS probe of a node's port: the node logs what arrived, in words, and keeps serving")
    func probes() async throws {
        let cluster = try await TestCluster.started()
        let port = cluster.cluster.port(0)
        // Plain TCP: an HTTP request where a TLS handshake should be.
        let plain = try await shell(["-c", "exec 3<>/dev/tcp/127.0.0.1/\(port); printf 'GET / HTTP/1.0\\r\\n\\r\\n' >&3; sleep 0.3"])
        #expect(plain == 0)
        // HTTPS: TLS with the cluster's CA, then an HTTP request where a frame should be.
        let https = try await shell(["-c", "printf 'GET / HTTP/1.0\\r\\n\\r\\n' | timeout 10 openssl s_client -quiet -connect 127.0.0.1:\(port) -CAfile '\(cluster.cluster.keysDirectory)/ca.crt' > /dev/null 2>&1; true"])
        #expect(https == 0)
        let deadline = Date().addingTimeInterval(10)
        var log = ""
        repeat {
            try await Task.sleep(for: .milliseconds(200))
            log = (try? String(contentsOfFile: cluster.directory + "/DFS1.log", encoding: .utf8)) ?? ""
        } while !(log.contains("not a TLS client") && log.contains("not an edfs client")) && Date() < deadline
        #expect(log.contains("not a TLS client (plain TCP or HTTP on the node's port)"), "\(log.suffix(800))")
        #expect(log.contains("not an edfs client: it sent \"GET \""), "\(log.suffix(800))")
        #expect(!log.contains("frame length 1195725856"))
        #expect(try await cluster.run(["ls"]).status == 0, "the node still serves")
    }
}
}
