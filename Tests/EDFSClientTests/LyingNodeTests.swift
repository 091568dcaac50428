import EDFSClient
import EDFSCrypto
import EDFSFormat
import EDFSTestSupport
import Foundation
import Testing

/// One node lies about the keyslot or a manifest — what a holder of the user's legacy MD5 digest (pass-the-hash)
/// or a compromised node can do over the protocol. The client keeps every file readable and every name writable.
@Suite("A lying node")
struct LyingNodeTests {
    private let password = "correct horse battery"

    /// Stores three files; returns name → content.
    private func storeFiles(_ cluster: any ClientCluster) async throws -> [String: [UInt8]] {
        var files = [String: [UInt8]]()
        try await cluster.withSession { session in
            for (index, size) in [0, 70_000, 300_001].enumerated() {
                let content = try randomContent(size)
                _ = try await PutOperation(session).run(file: cluster.writeScratch("src\(index)", content), as: "f\(index)")
                files["f\(index)"] = content
            }
        }
        return files
    }

    private func expectReadable(_ cluster: any ClientCluster, _ files: [String: [UInt8]],
                                naming node: String) async throws {
        let notices = Notices()
        try await cluster.withSession(notices: notices) { session in
            for (name, content) in files {
                let out = cluster.scratch("out")
                try await GetOperation(session).run(name: name, to: .file(out))
                #expect(try Array(Data(contentsOf: URL(fileURLWithPath: out))) == content, "\(name)")
            }
        }
        #expect(notices.all.contains { $0.contains(node) && $0.contains("locked keys") }, "notices: \(notices.all)")
    }

    /// A node's keyslot bytes as the node serves them.
    private func keyslot(_ cluster: InProcessCluster, node: Int, user: String) async throws -> [UInt8] {
        let link = try await cluster.connect(node: node, user: user)
        defer { Task { await link.close() } }
        return try #require(try await link.getKeyslot())
    }

    @Test("another user's keyslot at a higher revision on one node: every file still reads, the node is named")
    func anotherUsersKeyslot() async throws {
        let cluster = try InProcessCluster(nodes: 4, users: ["alice": password, "bob": "bob's own password"])
        defer { Task { await cluster.shutdown() } }
        let files = try await storeFiles(cluster)  // as alice, the cluster's first user
        // Bob's keyslot, raised to revision 3 by two password "changes" to the same password.
        let bobPassword = SecureBytes(copying: Array("bob's own password".utf8))
        for _ in 0..<3 {  // the first session creates bob's keys (revision 1), two changes raise it to 3
            let bob = try await ClusterSession.open(config: cluster.config, user: "bob", password: bobPassword,
                                                    connector: cluster.connector(user: "bob"), kdfIterations: 100_000)
            if bob.keyslot.header.revision < 3 {
                try await PasswordChange(bob).run(to: PasswordDerivation(password: bobPassword), kdfIterations: 100_000)
            }
            await bob.close()
        }
        let bobSlot = try await keyslot(cluster, node: 0, user: "bob")
        // With alice's digest, DFS2 gets bob's keyslot as alice's: a higher revision, so the node takes it.
        let link = try await cluster.connect(node: 1, user: "alice")
        try await link.putKeyslot(bobSlot)
        await link.close()
        try await expectReadable(cluster, files, naming: "DFS2")
    }

    @Test("a keyslot given a higher revision that does not open, on one node: files read, puts work, never 'old password'")
    func forgedHigherRevision() async throws {
        let cluster = try InProcessCluster(nodes: 4, users: ["alice": password])
        defer { Task { await cluster.shutdown() } }
        let files = try await storeFiles(cluster)
        let real = try Keyslot.decode(try await keyslot(cluster, node: 2, user: "alice"))
        var header = real.header
        header.revision = 1_000_000
        let forged = header.encoded() + real.bytes[KeyslotHeader.byteCount...]
        let link = try await cluster.connect(node: 2, user: "alice")
        try await link.putKeyslot(Array(forged))
        await link.close()
        try await expectReadable(cluster, files, naming: "DFS3")
        let notices = Notices()
        try await cluster.withSession(notices: notices) { session in
            _ = try await PutOperation(session).run(file: cluster.writeScratch("new", [1, 2, 3]), as: "new")
        }
        #expect(!notices.all.contains { $0.contains("old password") }, "\(notices.all)")
        // A wrong password is still refused as such.
        await #expect(throws: ClientError.self) { try await cluster.withSession(password: "wrong") { _ in } }
    }

    @Test("a node that lost its keyslot gets it back from the next session; every file reads")
    func deletedKeyslot() async throws {
        let cluster = try InProcessCluster(nodes: 4, users: ["alice": password])
        defer { Task { await cluster.shutdown() } }
        let files = try await storeFiles(cluster)
        await cluster.stopNode(3)
        try FileManager.default.removeItem(atPath: cluster.userDirectory(node: 3) + "/keyslot")
        try await cluster.startNode(3)
        try await cluster.withSession { session in
            for (name, content) in files {
                let out = cluster.scratch("out")
                try await GetOperation(session).run(name: name, to: .file(out))
                #expect(try Array(Data(contentsOf: URL(fileURLWithPath: out))) == content)
            }
        }
        #expect(FileManager.default.fileExists(atPath: cluster.userDirectory(node: 3) + "/keyslot"))
    }

    @Test("a forged manifest version (2^64-1) on one node blocks no put and hides no version")
    func forgedManifestVersion() async throws {
        let cluster = try InProcessCluster(nodes: 4, users: ["alice": password])
        defer { Task { await cluster.shutdown() } }
        _ = try await storeFiles(cluster)
        let (id, authentic) = try await cluster.withSession { session in
            let record = try #require(try await ManifestReader(session).lookUp(path: "f1").live)
            return (record.id, record.bytes)
        }
        var header = try ManifestHeader.decode(prefixOf: authentic)
        header.version = .max
        let forged = header.encoded() + authentic[ManifestHeader.byteCount...]
        let link = try await cluster.connect(node: 0, user: "alice")
        try await link.putManifest(id.hex, bytes: Array(forged))
        await link.close()
        for round in 0..<2 {
            let content = try randomContent(50_000 + round)
            let notices = Notices()
            try await cluster.withSession(notices: notices) { session in
                let result = try await PutOperation(session).run(file: cluster.writeScratch("v\(round)", content), as: "f1")
                #expect(result.manifestNodes == [0, 1, 2, 3], "\(notices.all)")
                let out = cluster.scratch("out")
                try await GetOperation(session).run(name: "f1", to: .file(out))
                #expect(try Array(Data(contentsOf: URL(fileURLWithPath: out))) == content)
                #expect(try #require(try await ManifestReader(session).lookUp(path: "f1").live).header.version < 100)
            }
        }
    }

    @Test("nodes that serve an older authentic version: get returns the newest and says which nodes disagree")
    func rollbackIsReported() async throws {
        let cluster = try InProcessCluster(nodes: 4, users: ["alice": password])
        defer { Task { await cluster.shutdown() } }
        try await cluster.withSession { session in
            _ = try await PutOperation(session).run(file: cluster.writeScratch("v1", try randomContent(1000)), as: "f")
        }
        await cluster.stopNode(1)
        await cluster.stopNode(3)
        let newer = try randomContent(2000)
        try await cluster.withSession { session in
            _ = try await PutOperation(session).run(file: cluster.writeScratch("v2", newer), as: "f")
        }
        try await cluster.startNode(1)
        try await cluster.startNode(3)
        let notices = Notices()
        try await cluster.withSession(notices: notices) { session in
            let out = cluster.scratch("out")
            try await GetOperation(session).run(name: "f", to: .file(out))
            #expect(try Array(Data(contentsOf: URL(fileURLWithPath: out))) == newer)
        }
        #expect(notices.all.contains { $0.contains("disagree") && $0.contains("DFS2 has version 1")
                                       && $0.contains("DFS4 has version 1") }, "\(notices.all)")
    }

    @Test("a forged keyslot asking for 100,000,000 PBKDF2 iterations is reported, not derived")
    func costlyForgedKeyslot() async throws {
        let cluster = try InProcessCluster(nodes: 4, users: ["alice": password])
        defer { Task { await cluster.shutdown() } }
        let files = try await storeFiles(cluster)
        let real = try Keyslot.decode(try await keyslot(cluster, node: 1, user: "alice"))
        var header = real.header
        header.revision = 77
        header.kdf = try KeyslotKDF(iterations: 100_000_000, salt: Array(repeating: 7, count: KeyslotKDF.saltByteCount))
        let link = try await cluster.connect(node: 1, user: "alice")
        try await link.putKeyslot(Array(header.encoded() + real.bytes[KeyslotHeader.byteCount...]))
        await link.close()
        let notices = Notices()
        try await cluster.withSession(notices: notices) { session in
            for (name, content) in files {
                let out = cluster.scratch("out")
                try await GetOperation(session).run(name: name, to: .file(out))
                #expect(try Array(Data(contentsOf: URL(fileURLWithPath: out))) == content)
            }
        }
        #expect(notices.all.contains { $0.contains("DFS2") && $0.contains("was not tried") }, "\(notices.all)")
    }

    @Test("a keyslot that does not open written to every node (pass-the-hash): key restore puts the real one back")
    func restoreAfterDestructiveWrite() async throws {
        let cluster = try InProcessCluster(nodes: 4, users: ["alice": password])
        defer { Task { await cluster.shutdown() } }
        let files = try await storeFiles(cluster)
        let real = try Keyslot.decode(try await keyslot(cluster, node: 0, user: "alice"))
        var header = real.header
        header.revision = 5_000
        let forged = Array(header.encoded() + real.bytes[KeyslotHeader.byteCount...])
        for node in 0..<4 {
            let link = try await cluster.connect(node: node, user: "alice")
            try await link.putKeyslot(forged)
            await link.close()
        }
        // Now no current keyslot opens anywhere; the session still opens, from the nodes' keyslot history, and says so.
        let fallback = Notices()
        try await cluster.withSession(notices: fallback) { session in
            #expect(session.keyslot.header.revision == real.header.revision)
        }
        #expect(fallback.all.contains { $0.contains("edfs key restore") }, "\(fallback.all)")
        let derivation = PasswordDerivation(password: SecureBytes(copying: Array(password.utf8)))
        let links = try await ClusterLinks.connect(config: cluster.config, user: "alice",
                                                   connectors: [cluster.connector(user: "alice", derivation: derivation)],
                                                   notices: Notices())
        let listed = try await KeyRestore(links: links, user: "alice").run(derivation: derivation, kdfIterations: 100_000,
                                                                          dryRun: true)
        #expect(listed.storedAs == nil && listed.opened == real.header.revision)
        #expect(listed.found.contains { $0.revision == 5_000 && $0.current })
        let report = try await KeyRestore(links: links, user: "alice").run(derivation: derivation, kdfIterations: 100_000)
        await links.close()
        #expect(report.storedAs == 5_001 && report.storedOn.count == 4)
        try await cluster.withSession { session in
            #expect(session.keyslot.header.revision == 5_001)
            for (name, content) in files {
                let out = cluster.scratch("out")
                try await GetOperation(session).run(name: name, to: .file(out))
                #expect(try Array(Data(contentsOf: URL(fileURLWithPath: out))) == content)
            }
        }
    }

    @Test("a keyslot at revision 2^64-1 on every node (attack finding): files still read, restore puts the real bytes back, passwd works")
    func restoreAfterExhaustedRevision() async throws {
        let cluster = try InProcessCluster(nodes: 4, users: ["alice": password])
        defer { Task { await cluster.shutdown() } }
        let files = try await storeFiles(cluster)
        let real = try Keyslot.decode(try await keyslot(cluster, node: 0, user: "alice"))
        var header = real.header
        header.revision = UInt64.max
        let forged = Array(header.encoded() + real.bytes[KeyslotHeader.byteCount...])
        for node in 0..<4 {
            let link = try await cluster.connect(node: node, user: "alice")
            try await link.putKeyslot(forged)
            await link.close()
        }
        #expect(try await cluster.mismatchedFiles(files).isEmpty)
        let derivation = PasswordDerivation(password: SecureBytes(copying: Array(password.utf8)))
        let links = try await ClusterLinks.connect(config: cluster.config, user: "alice",
                                                   connectors: [cluster.connector(user: "alice", derivation: derivation)],
                                                   notices: Notices())
        let report = try await KeyRestore(links: links, user: "alice").run(derivation: derivation, kdfIterations: 100_000)
        await links.close()
        // No revision is above 2^64-1: the nodes take back the very keyslot they accepted before.
        #expect(report.storedAs == real.header.revision && report.storedOn.count == 4)
        for node in 0..<4 { #expect(try await keyslot(cluster, node: node, user: "alice") == real.bytes) }
        let quiet = Notices()
        try await cluster.withSession(notices: quiet) { session in
            try await PasswordChange(session).run(to: PasswordDerivation(password: SecureBytes(copying: Array("new pw".utf8))),
                                                  kdfIterations: 100_000)
        }
        #expect(!quiet.all.contains { $0.contains("key restore") }, "\(quiet.all)")
        try await cluster.withSession(password: "new pw") { session in
            #expect(session.keyslot.header.revision == real.header.revision + 1)
        }
    }

    @Test("a damaged manifest copy on one node does not stall a key rotation (attack finding)", arguments: [false, true])
    func damagedManifestCopyDoesNotBlockRotation(reencrypt: Bool) async throws {
        let cluster = try InProcessCluster(nodes: 4, users: ["alice": password])
        defer { Task { await cluster.shutdown() } }
        let files = try await storeFiles(cluster)
        let (id, authentic) = try await cluster.withSession { session in
            let record = try #require(try await ManifestReader(session).lookUp(path: "f1").live)
            return (record.id, record.bytes)
        }
        var damaged = authentic
        damaged[damaged.count - 20] ^= 0x01  // inside the sealed body: the header still names this file
        let link = try await cluster.connect(node: 2, user: "alice")
        try await link.deleteManifest(id.hex, maxVersion: .max)
        try await link.putManifest(id.hex, bytes: damaged)
        await link.close()
        let report = try await cluster.withSession { session in try await KeyRotation(session).run(reencrypt: reencrypt) }
        #expect(!report.resumed)
        try await cluster.withSession { session in
            #expect(session.bundles.count == 1, "the rotation finished")
        }
        #expect(try await cluster.mismatchedFiles(files).isEmpty)
    }
}
