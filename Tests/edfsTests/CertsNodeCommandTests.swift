import EDFSClient
import EDFSTestSupport
import Foundation
import Testing

extension BinaryCommandSuites {
/// `edfs certs node NAME --hosts …` through the binary: certificates for a node's own names that nodes load and
/// clients accept for those names, and refuse for any other (issue 14, item 4).
@Suite("edfs certs node", .serialized)
struct CertsNodeCommandTests {
    private func mode(_ path: String) throws -> Int {
        try #require(FileManager.default.attributesOfItem(atPath: path)[.posixPermissions] as? Int)
    }

    private func subjectAltNames(_ certificate: String) async throws -> String {
        let process = Process()
        process.executableURL = URL(fileURLWithPath: "/usr/bin/env")
        process.arguments = ["openssl", "x509", "-noout", "-ext", "subjectAltName", "-in", certificate]
        let out = Pipe()
        process.standardOutput = out
        process.standardError = FileHandle.nullDevice
        try process.run()
        let reader = out.fileHandleForReading
        let data = await offPool { reader.readDataToEndOfFile() }
        await process.exited()
        return String(decoding: data, as: UTF8.self)
    }

    @Test("a certificate for other hosts is refused by the client; one for the Server line's IP or DNS name is accepted")
    func hostsAreChecked() async throws {
        let cluster = try await TestCluster.started(nodes: 2, replicas: 2)
        let keys = cluster.cluster.keysDirectory
        #expect(try await cluster.run(["status"]).status == 0)

        // Existing files are never replaced without --force.
        let refused = try await EDFSBinary.run(["certs", "node", "DFS1", "--dir", keys, "--hosts", "localhost,127.0.0.1"])
        #expect(refused.status == 73, "\(refused.stderr)")
        #expect(refused.stderr.hasPrefix("edfs: certs node: ") && refused.stderr.contains("--force"), "\(refused.stderr)")
        #expect(try await EDFSBinary.run(["certs", "node", "DFS1", "--dir", keys]).status == 64, "--hosts is required")
        let badHost = try await EDFSBinary.run(["certs", "node", "DFS1", "--dir", keys, "--hosts", "not a host", "--force"])
        #expect(badHost.status == 64 && badHost.stderr.contains("invalid host"), "\(badHost.stderr)")

        let first = try await EDFSBinary.run(["certs", "node", "DFS1", "--dir", keys, "--hosts", "localhost,127.0.0.1", "--force"])
        #expect(first.status == 0, "\(first.stderr)")
        #expect(first.stdout.contains("using existing CA"))
        let other = try await EDFSBinary.run(["certs", "node", "DFS2", "--dir", keys, "--hosts", "dfs2.example.net,198.18.0.12",
                                              "--force"])
        #expect(other.status == 0, "\(other.stderr)")
        #expect(try mode(keys + "/DFS2.key") == 0o600 && mode(keys + "/DFS2.crt") == 0o644)
        let names = try await subjectAltNames(keys + "/DFS2.crt")
        #expect(names.contains("DNS:dfs2.example.net") && names.contains("IP Address:198.18.0.12"), "\(names)")
        #expect(!names.contains("127.0.0.1") && !names.contains("DFS2"), "exactly the hosts given: \(names)")

        // The nodes load their new certificates (issued by the cluster's CA).
        for index in 0..<2 {
            cluster.cluster.stopNode(index)
            try cluster.cluster.startNode(index)
        }
        // DFS2's certificate is for other hosts: the client refuses it; DFS1's is for 127.0.0.1 and accepted.
        let mismatch = try await cluster.run(["status"])
        #expect(mismatch.status == 3, "\(mismatch.stdout)\(mismatch.stderr)")
        let lines = mismatch.stdout.split(separator: "\n")
        #expect(lines.contains { $0.hasPrefix("DFS1") && $0.contains(" up ") }, "\(mismatch.stdout)")
        #expect(lines.contains { $0.hasPrefix("DFS2") && $0.contains("unreachable") }, "\(mismatch.stdout)")

        // By DNS name: DFS1 as localhost (in its certificate) is accepted.
        let byName = cluster.scratch("by-name.conf")
        let port = cluster.cluster.port(0)
        try String(contentsOfFile: cluster.clientConfigPath, encoding: .utf8)
            .replacingOccurrences(of: "127.0.0.1:\(port)", with: "localhost:\(port)")
            .write(toFile: byName, atomically: true, encoding: .utf8)
        let named = try await EDFSBinary.run(["status", "--config", byName], environment: ["EDFS_PASSWORD": cluster.passwordText])
        #expect(named.stdout.split(separator: "\n").contains { $0.hasPrefix("DFS1") && $0.contains(" up ") },
                "\(named.stdout)\(named.stderr)")

        // Reissued for the right address, DFS2 is accepted again.
        #expect(try await EDFSBinary.run(["certs", "node", "DFS2", "--dir", keys, "--hosts", "127.0.0.1", "--force"]).status == 0)
        cluster.cluster.stopNode(1)
        try cluster.cluster.startNode(1)
        let healthy = try await cluster.run(["status"])
        #expect(healthy.status == 0, "\(healthy.stdout)\(healthy.stderr)")
    }

    @Test("a folder without a CA gets one; the node's key is 0600")
    func newFolder() async throws {
        let folder = FileManager.default.temporaryDirectory
            .appendingPathComponent("edfs-certs-\(UUID().uuidString.prefix(8))").path
        defer { try? FileManager.default.removeItem(atPath: folder) }
        let made = try await EDFSBinary.run(["certs", "node", "DFS1", "--dir", folder,
                                             "--hosts", "dfs1.example.net,198.18.0.11,::1"])
        #expect(made.status == 0, "\(made.stderr)")
        for file in ["ca.key", "ca.crt", "DFS1.key", "DFS1.crt"] {
            #expect(made.stdout.contains("wrote \(folder)/\(file)"), "\(made.stdout)")
        }
        #expect(try mode(folder + "/ca.key") == 0o600 && mode(folder + "/DFS1.key") == 0o600)
        let names = try await subjectAltNames(folder + "/DFS1.crt")
        #expect(names.contains("DNS:dfs1.example.net") && names.contains("IP Address:198.18.0.11")
                    && names.contains("IP Address:0:0:0:0:0:0:0:1"), "\(names)")
    }
}
}
