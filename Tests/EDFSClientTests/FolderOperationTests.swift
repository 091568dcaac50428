import EDFSClient
import EDFSFormat
import EDFSTestSupport
import Foundation
import Testing

/// Folders in the client library (issue 13): the namespace view, folder entries made by puts, races on them,
/// renames that share objects.
@Suite("Folders and renames")
struct FolderOperationTests {
    private func listing(_ name: String, folder: Bool = false) -> FileListing {
        FileListing(name: name, size: 1, modified: 0, version: 1, keyEpoch: 1, health: "healthy", manifestNodes: [],
                    isFolder: folder, mode: 0)
    }

    @Test("the namespace: children of one folder, implied and entered folders, files at any depth, entries deepest first")
    func namespace() {
        let names = Namespace([listing("a/b/c.txt"), listing("a/top"), listing("a/empty", folder: true),
                               listing("z"), listing("ab/x"), listing("a/b", folder: true)])
        #expect(names.children(of: "").map(\.name) == ["a", "ab", "z"])
        #expect(names.children(of: "a").map(\.name) == ["b", "empty", "top"])
        #expect(names.children(of: "a").map(\.isFolder) == [true, true, false])
        #expect(names.kind(of: "a") == .folder(entry: nil))
        #expect(names.kind(of: "a/b")?.isFolder == true && names.kind(of: "z")?.isFolder == false)
        #expect(names.kind(of: "a/b/c") == nil && names.kind(of: "nothing") == nil)
        #expect(names.files(inside: "a").map(\.name) == ["a/b/c.txt", "a/top"], "ab/x is not inside a")
        #expect(names.folderEntries(inside: "a").map(\.name) == ["a/empty", "a/b"] || names.folderEntries(inside: "a").map(\.name) == ["a/b", "a/empty"])
        #expect(names.isEmptyFolder("a/empty") && !names.isEmptyFolder("a"))
    }

    @Test("the stored-name rule and path helpers")
    func storedPaths() {
        for good in ["a", "a/b", "ünïcødé/日本語.txt", "with space", String(repeating: "x", count: 255)] {
            #expect(StoredPath.isValid(good), "\(good)")
        }
        for bad in ["", "/a", "a/", "a//b", ".", "..", "a/./b", "a/../b", "tab\there", "del\u{7f}", "rlo\u{202e}txt.exe", "c1\u{85}", "ls\u{2028}x", "iso\u{2066}x", String(repeating: "x", count: 256),
                    String(repeating: "abcdefgh/", count: 500)] {
            #expect(!StoredPath.isValid(bad), "\(bad.prefix(40))")
        }
        #expect(StoredPath.ancestors(of: "a/b/c") == ["a", "a/b"] && StoredPath.ancestors(of: "a").isEmpty)
        #expect(StoredPath.isInside("a/b", folder: "a") && !StoredPath.isInside("ab", folder: "a") && !StoredPath.isInside("a", folder: "a"))
        #expect(StoredPath.isInside("anything", folder: ""))
        #expect(StoredPath.trimmed("/photos/") == "photos" && StoredPath.trimmed("/") == "")
    }

    @Test("two sessions putting into the same new folder at once both succeed; the folder gets one entry")
    func concurrentPutsIntoANewFolder() async throws {
        try await withCluster(.inProcess) { cluster in
            let sessions = [try await cluster.session(), try await cluster.session()]
            try await withThrowingTaskGroup(of: Void.self) { group in
                for (index, session) in sessions.enumerated() {
                    let source = try cluster.writeScratch("src\(index)", [UInt8](repeating: UInt8(index), count: 1000))
                    group.addTask {
                        for file in 0..<4 {
                            _ = try await PutOperation(session).run(file: source, as: "shared/deeper/\(index)-\(file)")
                        }
                    }
                }
                try await group.waitForAll()
            }
            for session in sessions { await session.close() }
            let listed = try await cluster.withSession { try await ListOperation($0).run() }
            #expect(listed.filter { !$0.isFolder }.count == 8)
            #expect(listed.filter(\.isFolder).map(\.name).sorted() == ["shared", "shared/deeper"])
        }
    }

    @Test("a rename keeps the objects, reads the same bytes, and a later put over the new name does not delete data another name still uses")
    func renameSharesObjects() async throws {
        try await withCluster(.inProcess) { cluster in
            let content = try randomContent(300_000)
            try await cluster.withSession { session in
                _ = try await PutOperation(session).run(file: cluster.writeScratch("src", content), as: "old name")
                let before = Set((0..<4).flatMap { cluster.objectFiles(node: $0).keys })
                #expect(try await MoveOperation(session).run(from: "old name", to: "dir/new name") == 1)
                #expect(Set((0..<4).flatMap { cluster.objectFiles(node: $0).keys }) == before, "metadata only")
                let out = cluster.scratch("out")
                try await GetOperation(session).run(name: "dir/new name", to: .file(out))
                #expect(try Array(Data(contentsOf: URL(fileURLWithPath: out))) == content)
                await #expect(throws: ClientError.self) { try await GetOperation(session).run(name: "old name", to: .file(out + "2")) }
                // A new version of the moved file leaves the shared objects to the nodes' orphan collection.
                _ = try await PutOperation(session).run(file: cluster.writeScratch("src2", [1, 2, 3]), as: "dir/new name")
                #expect(before.isSubset(of: Set((0..<4).flatMap { cluster.objectFiles(node: $0).keys })))
                // Moving onto an existing file needs replace; a folder onto its own inside is refused.
                _ = try await PutOperation(session).run(file: cluster.writeScratch("src3", [9]), as: "other")
                await #expect(throws: ClientError.conflict("dir/new name exists; pass --force to replace it")) {
                    try await MoveOperation(session).run(from: "other", to: "dir/new name")
                }
                #expect(try await MoveOperation(session).run(from: "other", to: "dir/new name", replace: true) == 1)
                await #expect(throws: ClientError.self) { try await MoveOperation(session).run(from: "dir", to: "dir/inner") }
            }
        }
    }

    // MARK: Attack findings, kept as tests

    private func readBack(_ session: ClusterSession, _ cluster: any ClientCluster, _ name: String) async throws -> [UInt8] {
        let out = cluster.scratch("read-\(UUID().uuidString.prefix(6))")
        try await GetOperation(session).run(name: name, to: .file(out))
        return try Array(Data(contentsOf: URL(fileURLWithPath: out)))
    }

    @Test("a rename a node missed: after it returns, repair of the old name and a put over it leave the moved file whole")
    func renameWithANodeDown() async throws {
        try await withCluster(.inProcess) { cluster in
            let content = try randomContent(400_000)
            try await cluster.withSession { session in
                _ = try await PutOperation(session).run(file: cluster.writeScratch("src", content), as: "mvx")
            }
            await cluster.stopNode(3)
            try await cluster.withSession { try await MoveOperation($0).run(from: "mvx", to: "mvy") }
            try await cluster.startNode(3)
            try await cluster.withSession { session in
                _ = try await RepairOperation(session).run(names: ["mvx"])
                #expect(try await readBack(session, cluster, "mvy") == content)
                _ = try await PutOperation(session).run(file: cluster.writeScratch("other", [1, 2, 3]), as: "mvx")
                #expect(try await readBack(session, cluster, "mvy") == content)
                _ = try await RepairOperation(session).run()
                #expect(try await readBack(session, cluster, "mvy") == content)
            }
        }
    }

    @Test("a node replaying the pre-rename manifest cannot make repair delete the renamed file")
    func replayedPreRenameManifest() async throws {
        try await withCluster(.inProcess) { cluster in
            let content = try randomContent(300_000)
            let folder = cluster.userDirectory(node: 1) + "/manifests"
            let snapshot: [String: Data] = try await cluster.withSession { session in
                _ = try await PutOperation(session).run(file: cluster.writeScratch("src", content), as: "rz")
                var copies = [String: Data]()
                for name in try FileManager.default.contentsOfDirectory(atPath: folder) where !name.hasPrefix(".") {
                    copies[name] = try Data(contentsOf: URL(fileURLWithPath: folder + "/" + name))
                }
                try await MoveOperation(session).run(from: "rz", to: "rz2")
                return copies
            }
            for (name, bytes) in snapshot { try bytes.write(to: URL(fileURLWithPath: folder + "/" + name)) }
            try await cluster.withSession { session in
                _ = try await RepairOperation(session).run()
                #expect(try await readBack(session, cluster, "rz2") == content)
                _ = try await RemoveOperation(session).run(name: "rz2")
            }
        }
    }

    @Test("NFC and NFD spellings of one name are two files in the listing, the namespace and a folder")
    func unicodeTwins() async throws {
        try await withCluster(.inProcess) { cluster in
            let nfc = "caf\u{e9}", nfd = "cafe\u{301}"
            #expect(Array(nfc.utf8) != Array(nfd.utf8))
            try await cluster.withSession { session in
                for (name, byte) in [(nfc, UInt8(1)), (nfd, 2), ("T/" + nfc, 3), ("T/" + nfd, 4)] {
                    _ = try await PutOperation(session).run(file: cluster.writeScratch("s\(byte)", [byte]), as: name)
                }
                let listed = try await ListOperation(session).run()
                #expect(listed.filter { !$0.isFolder }.count == 4, "\(listed.map(\.name))")
                let names = Namespace(listed)
                #expect(names.children(of: "").count == 3)
                #expect(names.children(of: "T").count == 2 && names.files(inside: "T").count == 2)
                #expect(try await MoveOperation(session).run(from: "T", to: "U") == 2)
                #expect(try await readBack(session, cluster, "U/" + nfc) == [3])
                #expect(try await readBack(session, cluster, "U/" + nfd) == [4])
            }
        }
    }

    @Test("mv judges the target again right before its commit: a put made after the listing is not overwritten")
    func moveOntoANameCreatedMeanwhile() async throws {
        try await withCluster(.inProcess) { cluster in
            try await cluster.withSession { session in
                _ = try await PutOperation(session).run(file: cluster.writeScratch("a", [1]), as: "m1")
                let stale = Namespace(try await ListOperation(session).run())
                _ = try await PutOperation(session).run(file: cluster.writeScratch("b", [2]), as: "m2")
                await #expect(throws: ClientError.conflict("m2 exists; pass --force to replace it")) {
                    try await MoveOperation(session).run(from: "m1", to: "m2", namespace: stale)
                }
                #expect(try await readBack(session, cluster, "m2") == [2])
                #expect(try await readBack(session, cluster, "m1") == [1])
            }
        }
    }

    @Test("a get into a folder opened by LocalTree writes through its descriptor: the folder's path swapped for a link meanwhile leads nowhere else")
    func getThroughAFolderDescriptor() async throws {
        try await withCluster(.inProcess) { cluster in
            try await cluster.withSession { session in
                _ = try await PutOperation(session).run(file: cluster.writeScratch("a", [7, 7, 7]), as: "R/a")
                let victim = cluster.scratch("victim")
                try FileManager.default.createDirectory(atPath: victim, withIntermediateDirectories: true)
                try Data("ORIGINAL".utf8).write(to: URL(fileURLWithPath: victim + "/a"))
                let tree = try LocalTree(root: cluster.scratch("out"), force: false)
                let parent = try #require(try tree.folder(["R"], creating: true))
                defer { close(parent) }
                // The attacker swaps the folder for a link to the victim after it was opened.
                try FileManager.default.moveItem(atPath: cluster.scratch("out/R"), toPath: cluster.scratch("out/Rmoved"))
                try FileManager.default.createSymbolicLink(atPath: cluster.scratch("out/R"), withDestinationPath: victim)
                try await GetOperation(session).run(name: "R/a", to: .fileIn(folder: parent, name: "a", shown: "out/R/a"))
                #expect(try Data(contentsOf: URL(fileURLWithPath: victim + "/a")) == Data("ORIGINAL".utf8))
                #expect(try Data(contentsOf: URL(fileURLWithPath: cluster.scratch("out/Rmoved/a"))) == Data([7, 7, 7]))
                // And a later walk refuses the link.
                #expect(throws: ClientError.self) { _ = try tree.folder(["R"], creating: true) }
                #expect(throws: ClientError.self) { _ = try LocalTree(root: cluster.scratch("out/R"), force: false) }
            }
        }
    }

    @Test("a copy of another manifest put under a name's id on one node is replaced by the next put")
    func foreignManifestUnderAnID() async throws {
        try await withCluster(.inProcess) { cluster in
            try await cluster.withSession { session in
                _ = try await PutOperation(session).run(file: cluster.writeScratch("a", [1]), as: "swapA")
                _ = try await PutOperation(session).run(file: cluster.writeScratch("b", [2]), as: "swapB")
                let folder = cluster.userDirectory(node: 1) + "/manifests/"
                let ids = ManifestReader(session).manifestIDs(path: "swapA") + ManifestReader(session).manifestIDs(path: "swapB")
                for _ in 0..<5 { _ = try await PutOperation(session).run(file: cluster.writeScratch("a", [1]), as: "swapA") }
                try FileManager.default.removeItem(atPath: folder + ids[1].hex)
                try FileManager.default.copyItem(atPath: folder + ids[0].hex, toPath: folder + ids[1].hex)
                let result = try await PutOperation(session).run(file: cluster.writeScratch("c", [3]), as: "swapB")
                #expect(result.manifestNodes.count == 4, "the foreign copy must be replaced, not block the put")
                #expect(try await readBack(session, cluster, "swapB") == [3])
            }
        }
    }
}
