import EDFSCrypto
import EDFSFormat
@testable import EDFSNode
import Foundation
import Testing

/// LIST pages after the first reuse the folder's sorted names (`ListingCache`), yet every change the node makes to
/// the folder shows in the next page (docs/STORAGE.md, "Listing").
@Suite struct ListingCacheTests {
    static func put(_ store: ObjectStore, _ id: String, _ bytes: [UInt8] = [1, 2, 3]) throws {
        let writer = try store.beginWrite(user: "alice", id: id, length: UInt64(bytes.count))
        try writer.append(bytes)
        try writer.commit()
    }

    /// Every name of the user's objects, page by page.
    static func listAll(_ store: ObjectStore, pageSize: Int) throws -> [String] {
        var names: [String] = []
        var after = ""
        while true {
            let page = try store.list(user: "alice", namespace: .objects, startAfter: after, limit: pageSize)
            names += page.entries.map(\.name)
            guard page.more, let last = page.entries.last else { return names }
            after = last.name
        }
    }

    @Test func laterPagesReuseTheFoldersNamesAndSeeTheNodesOwnChanges() throws {
        let folder = try TemporaryDirectory()
        defer { folder.remove() }
        let store = try ObjectStore(root: folder.path)
        let ids = (0..<50).map { String(format: "obj-%03d", $0) }
        for id in ids { try Self.put(store, id) }

        let before = store.listings.loads
        #expect(try Self.listAll(store, pageSize: 10) == ids)
        #expect(store.listings.loads == before + 1, "one folder read for five pages")

        // Changes between pages: a put sorting into a later page, a delete of a later name, a replaced object.
        let first = try store.list(user: "alice", namespace: .objects, startAfter: "", limit: 10)
        #expect(first.entries.map(\.name) == Array(ids[0..<10]))
        try Self.put(store, "obj-025a")
        try store.delete(user: "alice", id: "obj-030")
        try Self.put(store, "obj-040", [9, 9, 9, 9, 9])
        var rest: [WireListEntry] = []
        var after = first.entries.last?.name ?? ""
        while true {
            let page = try store.list(user: "alice", namespace: .objects, startAfter: after, limit: 10)
            rest += page.entries
            guard page.more, let last = page.entries.last else { break }
            after = last.name
        }
        let expected = (Array(ids[10...]) + ["obj-025a"]).filter { $0 != "obj-030" }.sorted()
        #expect(rest.map(\.name) == expected)
        #expect(rest.first { $0.name == "obj-040" }?.length == 5, "lengths are read afresh")
        #expect(store.listings.heldBytes <= ListingCache.maxBytes)
    }

    @Test func aQuarantineOrAnOrphanRemovalShowsInTheNextPage() throws {
        let folder = try TemporaryDirectory()
        defer { folder.remove() }
        let metadata = MetadataStore(objects: try ObjectStore(root: folder.path))
        let store = metadata.objects
        // Object names as a put makes them (`<file id>.<stripe>`), so that orphan collection applies to them.
        let ids = (0..<30).map { String(format: "%032x.0", $0 * 7919) }.sorted()
        for id in ids { try Self.put(store, id, Array(repeating: 7, count: 100)) }
        let first = try store.list(user: "alice", namespace: .objects, startAfter: "", limit: 10)
        #expect(first.entries.count == 10)

        // Damage obj-020, then a running node's scrub quarantines it: the next page no longer lists it.
        let path = try store.path(user: "alice", namespace: .objects, id: ids[20])
        let handle = try #require(FileHandle(forUpdatingAtPath: path))
        try handle.seek(toOffset: 3)
        try handle.write(contentsOf: Data([0xFF]))
        try handle.close()
        let report = try Scrubber(metadata: metadata).scrub({
            var options = ScrubOptions()
            options.quarantine = true
            return options
        }())
        #expect(report.quarantined.count == 1)
        let next = try store.list(user: "alice", namespace: .objects, startAfter: ids[9], limit: 100)
        let damaged = ids[20]
        #expect(next.entries.map(\.name) == Array(ids[10...]).filter { $0 != damaged })

        // Objects named by no manifest, collected with no grace period: the next page is empty.
        _ = try Scrubber(metadata: metadata).scrub(.full(gracePeriod: .zero))
        let last = try store.list(user: "alice", namespace: .objects, startAfter: ids[9], limit: 100)
        #expect(last.entries.isEmpty)
    }
}
