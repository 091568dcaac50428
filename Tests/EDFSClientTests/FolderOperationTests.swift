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
        for bad in ["", "/a", "a/", "a//b", ".", "..", "a/./b", "a/../b", "tab\there", "del\u{7f}", String(repeating: "x", count: 256),
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
                await #expect(throws: ClientError.conflict("dir/new name exists; remove it first")) {
                    try await MoveOperation(session).run(from: "other", to: "dir/new name")
                }
                #expect(try await MoveOperation(session).run(from: "other", to: "dir/new name", replace: true) == 1)
                await #expect(throws: ClientError.self) { try await MoveOperation(session).run(from: "dir", to: "dir/inner") }
            }
        }
    }
}
