import EDFSClient
import EDFSCrypto
import EDFSFormat
import EDFSTestSupport
import Foundation
import Testing

/// Key rotation, re-encryption, interruption and export/import against real node processes.
@Suite("Key management", .serialized)
struct KeyManagementTests {
    /// Stores `count` files of mixed sizes; returns name → content.
    private func storeFiles(_ cluster: any ClientCluster, count: Int) async throws -> [String: [UInt8]] {
        var files = [String: [UInt8]]()
        let sizes = [0, 1, 100, 4095, 65_536, 65_537, 150_001, 300_000]
        try await cluster.withSession { session in
            for index in 0..<count {
                let content = try randomContent(sizes[index % sizes.count] + index)
                let name = "dir \(index % 5)/file-\(index).bin"
                _ = try await PutOperation(session).run(file: cluster.writeScratch("src", content), as: name)
                files[name] = content
            }
        }
        return files
    }

    private func expectAllReadable(_ cluster: any ClientCluster, _ files: [String: [UInt8]]) async throws {
        try await cluster.withSession { session in
            let listed = try await ListOperation(session).run()
            #expect(Set(listed.filter { !$0.isFolder }.map(\.name)) == Set(files.keys))
            // The folders the puts made have entries of their own (kept when a test removed what they held).
            #expect(Set(files.keys.map(StoredPath.parent).filter { !$0.isEmpty }).isSubset(of: Set(listed.filter(\.isFolder).map(\.name))))
            for (name, content) in files {
                let out = cluster.scratch("out")
                try await GetOperation(session).run(name: name, to: .file(out))
                #expect(try Array(Data(contentsOf: URL(fileURLWithPath: out))) == content, "\(name)")
            }
        }
    }

    /// Every stored manifest copy on every node, trimmed to its own length (the node may keep a footer).
    private func storedManifests(_ cluster: any ClientCluster) throws -> [[UInt8]] {
        var result = [[UInt8]]()
        for node in 0..<cluster.nodeCount {
            let root = cluster.userDirectory(node: node) + "/manifests"
            for file in try FileManager.default.contentsOfDirectory(atPath: root) where !file.hasPrefix(".") {
                let bytes = try Array(Data(contentsOf: URL(fileURLWithPath: root + "/" + file)))
                let header = try ManifestHeader.decode(prefixOf: bytes)
                result.append(Array(bytes[0..<header.manifestLength]))
            }
        }
        return result
    }

    /// Object name → SHA-256 of its stored file, over every node.
    private func objectDigests(_ cluster: any ClientCluster) throws -> [String: [UInt8]] {
        var result = [String: [UInt8]]()
        for node in 0..<cluster.nodeCount {
            for (name, path) in cluster.objectFiles(node: node) {
                result["\(node)/\(name)"] = Digest.sha256(try Array(Data(contentsOf: URL(fileURLWithPath: path))))
            }
        }
        return result
    }

    /// The file ids of live file versions (what `ls` lists, each looked up).
    private func liveFileIDs(_ cluster: any ClientCluster) async throws -> Set<String> {
        try await cluster.withSession { session in
            var ids = Set<String>()
            for file in try await ListOperation(session).run() {
                ids.insert(try #require(try await ManifestReader(session).lookUp(path: file.name).live).header.fileID.hex)
            }
            return ids
        }
    }

    /// The file ids of stored objects no live file version names, over every node.
    private func orphanFileIDs(_ cluster: any ClientCluster) async throws -> Set<String> {
        let live = try await liveFileIDs(cluster)
        var orphans = Set<String>()
        for node in 0..<cluster.nodeCount {
            for name in cluster.objectFiles(node: node).keys where !live.contains(String(name.prefix(32))) {
                orphans.insert(String(name.prefix(32)))
            }
        }
        return orphans
    }

    /// True when every stored object belongs to a live file version.
    private func expectNoOrphans(_ cluster: any ClientCluster) async throws {
        let orphans = try await orphanFileIDs(cluster)
        #expect(orphans.isEmpty, "objects of file ids no live version names: \(orphans.sorted())")
    }

    /// Runs each node's orphan collection with no grace (the node stopped for it, then started again).
    private func collectOrphans(_ cluster: TestCluster) async throws {
        for node in 0..<cluster.nodeCount {
            await cluster.stopNode(node)
            let scrub = try await EDFSBinary.run(["node", "scrub", "--data", cluster.cluster.dataDirectory("DFS\(node + 1)"),
                                                  "--grace", "0s"])
            #expect([0, 65].contains(scrub.status), "\(scrub.stderr)")
            try await cluster.startNode(node)
        }
    }

    @Test("rotate over 50 files: all read back, every manifest at the new epoch, old key opens none, objects untouched")
    func rotate() async throws {
        try await withCluster(.inProcess) { cluster in
            let files = try await storeFiles(cluster, count: 50)
            let oldBundle = try await cluster.withSession { $0.currentBundle }
            let objectsBefore = try objectDigests(cluster)
            let report = try await cluster.withSession { try await KeyRotation($0).run(reencrypt: false) }
            // 50 files and the 5 folder entries their puts made.
            #expect(report.epoch == 2 && report.rewrapped == 55 && report.reencrypted == 0)
            try await expectAllReadable(cluster, files)
            let newBundle = try await cluster.withSession { session in
                #expect(!session.keyStatus.rotationUnfinished)
                return session.currentBundle
            }
            let manifests = try storedManifests(cluster)
            #expect(manifests.count == 55 * 4)
            for bytes in manifests {
                #expect(try ManifestHeader.decode(prefixOf: bytes).keyEpoch == 2)
                #expect(throws: FormatError.self) { _ = try Manifest.open(bytes, masterKey: oldBundle.masterKey) }
                #expect(throws: Never.self) { _ = try Manifest.open(bytes, masterKey: newBundle.masterKey) }
            }
            #expect(try objectDigests(cluster) == objectsBefore, "a re-wrap must not touch any object")
        }
    }

    @Test("rotate --reencrypt: every object id changes, old objects are gone, content is byte-exact")
    func reencrypt() async throws {
        try await withCluster(.inProcess) { cluster in
            let files = try await storeFiles(cluster, count: 12)
            let namesBefore = Set((0..<4).flatMap { cluster.objectFiles(node: $0).keys })
            let report = try await cluster.withSession { try await KeyRotation($0).run(reencrypt: true) }
            #expect(report.reencrypted == 12)
            let namesAfter = Set((0..<4).flatMap { cluster.objectFiles(node: $0).keys })
            #expect(namesBefore.isDisjoint(with: namesAfter))
            #expect(namesAfter.count == namesBefore.count)
            try await expectAllReadable(cluster, files)
            try await expectNoOrphans(cluster)
            try await cluster.withSession { session in
                for name in files.keys {
                    let record = try #require(try await ManifestReader(session).lookUp(path: name).live)
                    #expect(record.body.dataKeyEpoch == 2 && record.header.keyEpoch == 2)
                }
            }
        }
    }

    @Test("a rotation killed part-way (kill -9), used, then resumed: nothing lost, nothing at the old epoch, no orphans",
          arguments: [false, true])
    func interruptedRotation(reencrypt: Bool) async throws {
        let cluster = try await TestCluster.started()
        var files = try await storeFiles(cluster, count: 20)
        let idsBefore = try await liveFileIDs(cluster)
        let killed = try await EDFSBinary.run(["key", "rotate", "--config", cluster.clientConfigPath] + (reencrypt ? ["--reencrypt"] : []),
                                              environment: ["EDFS_PASSWORD": cluster.passwordText, "EDFS_TEST_CRASH_AFTER_FILES": "7"])
        #expect(killed.status != 0, "the test hook must have killed the rotation")
        // Files move a few at a time, so one more may have finished before the hook's kill landed.
        #expect((7...8).contains(killed.stdout.split(separator: "\n").filter { $0.hasPrefix("rotated") }.count))
        // Writes the dead rotation had fully sent may still be landing on the nodes (a node finishes an object whose
        // last byte arrived, then renames it); one landing after the put below deleted that version's re-encrypted
        // objects would be an orphan the client could not have prevented (the nodes' orphan collection's case, see
        // killedFromOutside). Restarting the nodes ends them first, so what is checked below is the client's cleanup.
        for node in 0..<cluster.nodeCount {
            await cluster.stopNode(node)
            try await cluster.startNode(node)
        }
        // Mid-rotation the keyslot holds both epochs and gets and puts keep working.
        try await cluster.withSession { session in
            #expect(session.keyStatus.rotationUnfinished)
            #expect(session.keyStatus.reencrypting == reencrypt)
            let extra = try randomContent(77_777)
            _ = try await PutOperation(session).run(file: cluster.writeScratch("extra", extra), as: "written mid-rotation")
            files["written mid-rotation"] = extra
            let replaced = try randomContent(1234)
            _ = try await PutOperation(session).run(file: cluster.writeScratch("r", replaced), as: "dir 0/file-0.bin")
            files["dir 0/file-0.bin"] = replaced
        }
        try await expectAllReadable(cluster, files)
        // Resume (a plain rerun: the keyslot remembers whether to re-encrypt).
        let resumed = try await cluster.run(["key", "rotate", "--resume"])
        #expect(resumed.status == 0, "\(resumed.stderr)")
        #expect(resumed.stdout.contains("(resumed)"))
        try await expectAllReadable(cluster, files)
        try await cluster.withSession { session in
            #expect(!session.keyStatus.rotationUnfinished)
            #expect(session.bundles.map(\.epoch) == [2])
            for name in files.keys {
                let record = try #require(try await ManifestReader(session).lookUp(path: name).live)
                #expect(record.header.keyEpoch == 2)
                if reencrypt { #expect(record.body.dataKeyEpoch == 2) }
            }
        }
        for bytes in try storedManifests(cluster) { #expect(try ManifestHeader.decode(prefixOf: bytes).keyEpoch == 2) }
        // The kill may land in the file the other task was moving, between its old manifests' removal and its old
        // objects' (a node never deletes an object a manifest it holds names): those objects, of that one file's
        // pre-rotation file id, are the nodes' orphan collection's. Anything else left is the client's cleanup failing.
        let leftovers = try await orphanFileIDs(cluster)
        #expect(leftovers.count <= 1 && leftovers.isSubset(of: idsBefore),
                "left behind: \(leftovers.sorted()); only one pre-rotation file id may be")
        if reencrypt { try await collectOrphans(cluster) } else { #expect(leftovers.isEmpty, "a re-wrap deletes no object") }
        try await expectNoOrphans(cluster)
    }

    @Test("a re-encrypting rotation SIGKILLed from outside at an arbitrary moment, then rerun: nothing lost, no orphans")
    func killedFromOutside() async throws {
        let cluster = try await TestCluster.started()
        let files = try await storeFiles(cluster, count: 24)
        let process = Process()
        process.executableURL = try EDFSBinary.url()
        process.arguments = ["key", "rotate", "--reencrypt", "--config", cluster.clientConfigPath]
        process.environment = ProcessInfo.processInfo.environment.merging(["EDFS_PASSWORD": cluster.passwordText]) { $1 }
        let output = Pipe()
        process.standardOutput = output
        process.standardError = FileHandle.nullDevice
        let lines = LineCounter()
        output.fileHandleForReading.readabilityHandler = { handle in lines.add(handle.availableData) }
        try process.run()
        let deadline = Date().addingTimeInterval(60)
        while lines.count < 4 && process.isRunning && Date() < deadline { try await Task.sleep(for: .milliseconds(1)) }
        try await Task.sleep(for: .microseconds(UInt32.random(in: 0...20_000)))  // somewhere inside the next file
        kill(process.processIdentifier, SIGKILL)
        await process.exited()
        output.fileHandleForReading.readabilityHandler = nil
        #expect(process.terminationReason == .uncaughtSignal, "the rotation must have been killed before it finished")
        let rerun = try await cluster.run(["key", "rotate"])
        #expect(rerun.status == 0, "\(rerun.stderr)")
        try await expectAllReadable(cluster, files)
        // A kill between a file's manifest removal and its old objects' leaves those objects to the nodes' orphan
        // collection (a node never deletes what a manifest it holds names): run it, then nothing may be left.
        try await collectOrphans(cluster)
        try await expectNoOrphans(cluster)
        try await cluster.withSession { session in
            for name in files.keys {
                let record = try #require(try await ManifestReader(session).lookUp(path: name).live)
                #expect(record.header.keyEpoch == 2 && record.body.dataKeyEpoch == 2, "\(name) not re-encrypted")
            }
        }
    }

    @Test("passwd: the old password fails on every node (also after a restart), the new one reads every file")
    func passwd() async throws {
        let cluster = try await TestCluster.started()
        let files = try await storeFiles(cluster, count: 5)
        let changed = try await EDFSBinary.run(["passwd", "--config", cluster.clientConfigPath],
                                               environment: ["EDFS_PASSWORD": cluster.passwordText,
                                                             "EDFS_NEW_PASSWORD": "a brand new password"])
        #expect(changed.status == 0, "\(changed.stderr)")
        for node in 0..<4 {
            await cluster.stopNode(node)
            try await cluster.startNode(node)  // the verifier lives in the data directory
        }
        let old = try await cluster.run(["ls"])
        #expect(old.status == 77, "\(old.stderr)")
        // Each node on its own refuses the old password and takes the new one.
        let config = try cluster.config()
        for (index, server) in config.servers.enumerated() {
            await #expect(throws: NodeLinkError.self) {
                _ = try await NodeConnection.connector(config: config, user: cluster.user, password: cluster.password,
                                                       options: .forTests)(index, server)
            }
            let link = try await NodeConnection.connector(config: config, user: cluster.user,
                                                          password: SecureBytes(copying: Array("a brand new password".utf8)),
                                                          options: .forTests)(index, server)
            await link.close()
        }
        let fresh = try await cluster.run(["ls"], password: "a brand new password")
        #expect(fresh.status == 0)
        try await cluster.withSession(password: "a brand new password") { session in
            for (name, content) in files {
                let out = cluster.scratch("out")
                try await GetOperation(session).run(name: name, to: .file(out))
                #expect(try Array(Data(contentsOf: URL(fileURLWithPath: out))) == content)
            }
        }
    }

    @Test("a passwd interrupted after two of four nodes finishes when run again with the same passwords")
    func interruptedPasswd() async throws {
        let cluster = try await TestCluster.started()
        let files = try await storeFiles(cluster, count: 3)
        let newPassword = "the new password"
        let secret = SecureBytes(copying: Array(newPassword.utf8))
        // What a passwd killed half-way leaves: the new keyslot and verifier on DFS1 and DFS2 only.
        try await cluster.withSession { session in
            let kdf = try KeyslotKDF.generate(iterations: 100_000)
            let slot = try Keyslot.seal(user: cluster.user, kek: try kdf.deriveKEK(password: secret), kdf: kdf,
                                        revision: session.keyslot.header.revision + 1, bundles: session.bundles)
            for node in 0..<2 {
                let link = try #require(session.links[node])
                try await link.putKeyslot(slot.bytes)
                try await link.setLoginVerifier(digest: NodeConnection.legacyPasswordDigest(secret))
            }
        }
        // The old password still works on the two untouched nodes (degraded), with a hint to finish the change.
        let oldOnly = try await cluster.run(["ls"])
        #expect(oldOnly.stderr.contains("may not have finished"), "\(oldOnly.stderr)")
        let rerun = try await EDFSBinary.run(["passwd", "--config", cluster.clientConfigPath],
                                             environment: ["EDFS_PASSWORD": cluster.passwordText, "EDFS_NEW_PASSWORD": newPassword])
        #expect(rerun.status == 0, "\(rerun.stderr)")
        #expect(try await cluster.run(["ls"]).status == 77)
        try await cluster.withSession(password: newPassword) { session in
            for (name, content) in files {
                let out = cluster.scratch("out")
                try await GetOperation(session).run(name: name, to: .file(out))
                #expect(try Array(Data(contentsOf: URL(fileURLWithPath: out))) == content)
            }
        }
    }

    @Test("passwd with a node down is refused with exit 69 and changes nothing on the others")
    func passwdNeedsEveryNode() async throws {
        let cluster = try await TestCluster.started()
        _ = try await storeFiles(cluster, count: 2)
        let keyslots = { () throws -> [Data] in
            try cluster.nodeNames.map {
                try Data(contentsOf: URL(fileURLWithPath: cluster.cluster.dataDirectory($0) + "/users/\(cluster.user)/keyslot"))
            }
        }
        let before = try keyslots()
        await cluster.stopNode(3)
        let refused = try await EDFSBinary.run(["passwd", "--config", cluster.clientConfigPath],
                                               environment: ["EDFS_PASSWORD": cluster.passwordText, "EDFS_NEW_PASSWORD": "other"])
        #expect(refused.status == 69, "\(refused.stderr)")
        #expect(refused.stderr.contains("nothing was changed"))
        try await cluster.startNode(3)
        #expect(try keyslots() == before)
        for name in cluster.nodeNames {
            #expect(!FileManager.default.fileExists(atPath: cluster.cluster.dataDirectory(name) + "/users/\(cluster.user)/verifier"))
        }
        #expect(try await cluster.run(["ls"]).status == 0, "the old password still works everywhere")
    }

    @Test("a session opened before a rotation cannot commit at the old epoch; rm during a rotation does not resurrect")
    func racesWithRotation() async throws {
        let cluster = try await TestCluster.started()
        var files = try await storeFiles(cluster, count: 10)
        let before = try await cluster.session()  // opened at epoch 1
        let killed = try await EDFSBinary.run(["key", "rotate", "--config", cluster.clientConfigPath],
                                              environment: ["EDFS_PASSWORD": cluster.passwordText, "EDFS_TEST_CRASH_AFTER_FILES": "3"])
        #expect(killed.status != 0)
        // The old session's put is refused by every node (its manifest would be sealed at a dropped epoch).
        await #expect(throws: ClientError.self) {
            _ = try await PutOperation(before).run(file: cluster.writeScratch("late", try randomContent(1000)), as: "late writer")
        }
        await before.close()
        // Remove two files while the rotation is unfinished; resuming must not bring them back.
        let removed = files.keys.sorted().prefix(2)
        try await cluster.withSession { session in
            for name in removed { try await RemoveOperation(session).run(name: name) }
        }
        for name in removed { files[name] = nil }
        let resumed = try await cluster.run(["key", "rotate"])
        #expect(resumed.status == 0, "\(resumed.stderr)")
        try await expectAllReadable(cluster, files)
        try await expectNoOrphans(cluster)
    }

    @Test("importing a key file that opens none of the stored manifests is refused and changes nothing")
    func importOfForeignKeys() async throws {
        let other = try await TestCluster.started()
        _ = try await storeFiles(other, count: 1)
        let keyFile = other.scratch("foreign.edfs")
        let exported = try await EDFSBinary.run(["key", "export", "-o", keyFile, "--config", other.clientConfigPath],
                                                environment: ["EDFS_PASSWORD": other.passwordText, "EDFS_EXPORT_PASSPHRASE": "pp"])
        #expect(exported.status == 0)
        let cluster = try await TestCluster.started()  // same user name, other keys
        _ = try await storeFiles(cluster, count: 3)
        let slotPath = cluster.dataDirectory(node: 0) + "/users/\(cluster.user)/keyslot"
        let slotBefore = try Data(contentsOf: URL(fileURLWithPath: slotPath))
        let imported = try await EDFSBinary.run(["key", "import", keyFile, "--config", cluster.clientConfigPath],
                                                environment: ["EDFS_PASSWORD": cluster.passwordText, "EDFS_EXPORT_PASSPHRASE": "pp"])
        #expect(imported.status == 65, "\(imported.stderr)")
        #expect(try Data(contentsOf: URL(fileURLWithPath: slotPath)) == slotBefore)
    }

    @Test("export, lose every keyslot, import: every file reads again; no new keys are made in between")
    func exportImport() async throws {
        let cluster = try await TestCluster.started()
        let files = try await storeFiles(cluster, count: 6)
        let keyFile = cluster.scratch("keys.edfs")
        let exported = try await EDFSBinary.run(["key", "export", "-o", keyFile, "--config", cluster.clientConfigPath],
                                                environment: ["EDFS_PASSWORD": cluster.passwordText,
                                                              "EDFS_EXPORT_PASSPHRASE": "a separate passphrase"])
        #expect(exported.status == 0, "\(exported.stderr)")
        let mode = try #require(try FileManager.default.attributesOfItem(atPath: keyFile)[.posixPermissions] as? NSNumber)
        #expect(mode.intValue & 0o777 == 0o600)
        for name in cluster.nodeNames {
            try FileManager.default.removeItem(atPath: cluster.cluster.dataDirectory(name) + "/users/\(cluster.user)/keyslot")
        }
        // With manifests on the nodes and no keyslot, a session must not invent new keys.
        let refused = try await cluster.run(["ls"])
        #expect(refused.status == 1, "\(refused.stderr)")
        #expect(refused.stderr.contains("key import"))
        let wrongPassphrase = try await EDFSBinary.run(["key", "import", keyFile, "--config", cluster.clientConfigPath],
                                                       environment: ["EDFS_PASSWORD": cluster.passwordText,
                                                                     "EDFS_EXPORT_PASSPHRASE": "not it"])
        #expect(wrongPassphrase.status == 77)
        let imported = try await EDFSBinary.run(["key", "import", keyFile, "--config", cluster.clientConfigPath],
                                                environment: ["EDFS_PASSWORD": cluster.passwordText,
                                                              "EDFS_EXPORT_PASSPHRASE": "a separate passphrase"])
        #expect(imported.status == 0, "\(imported.stderr)")
        try await expectAllReadable(cluster, files)
        let status = try await cluster.run(["key", "status", "--json"])
        #expect(status.status == 0 && status.stdout.contains("\"epoch\":1"))
    }
}

/// Counts newline-terminated lines arriving from a pipe; safe from the pipe's handler thread.
final class LineCounter: Sendable {
    private let lines = PthreadMutex(0)
    func add(_ data: Data) { lines.withLock { $0 += data.filter { $0 == 0x0A }.count } }
    var count: Int { lines.withLock { $0 } }
}
