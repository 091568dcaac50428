import EDFSClient
import EDFSFormat
import EDFSNode
import Foundation
import Logging
import Testing

/// The node's keyslot history (docs/STORAGE.md, "Keyslot history"; GET_KEYSLOT_HISTORY).
@Suite struct KeyslotHistoryTests {
    @Test func historyIsNewestFirstAndBoundedToEight() async throws {
        try await withNode { node in
            let alice = try await node.connect("alice")
            #expect(try await alice.keyslotHistory().isEmpty)
            var written: [[UInt8]] = []
            for revision in 1...11 {
                let slot = try testKeyslot(epoch: 1, revision: UInt64(revision))
                try await alice.putKeyslot(slot)
                written.append(slot)
            }
            let history = try await alice.keyslotHistory()
            #expect(history.count == MetadataStore.historyDepth)
            #expect(history == Array(written.suffix(MetadataStore.historyDepth).reversed()))
            #expect(try await alice.getKeyslot() == written.last)
            // Another user's history is their own.
            let bob = try await node.connect("bob")
            #expect(try await bob.keyslotHistory().isEmpty)
            await bob.close()
            await alice.close()
            // The old entries are removed from the disk, not just hidden.
            let files = node.directory.allFiles().filter { $0.contains("users/alice/keyslots/") }
            #expect(files.count == MetadataStore.historyDepth)
        }
    }

    @Test func aRefusedOrRepeatedKeyslotDoesNotEnterTheHistory() async throws {
        try await withNode { node in
            let alice = try await node.connect("alice")
            let honest = try testKeyslot(epoch: 1, revision: 5)
            try await alice.putKeyslot(honest)
            try await alice.putKeyslot(honest)  // a byte-identical retry: accepted, but nothing new
            do {
                try await alice.putKeyslot(try testKeyslot(epoch: 1, revision: 4))
                Issue.record("a stale keyslot was accepted")
            } catch {
                #expect("\(error)".contains("stale") || "\(error)".contains("supersede"), "got \(error)")
            }
            #expect(try await alice.keyslotHistory() == [honest])
            await alice.close()
        }
    }

    @Test func aForgedHigherRevisionLeavesTheHonestKeyslotInTheHistory() async throws {
        try await withNode { node in
            let alice = try await node.connect("alice")
            let honest = try testKeyslot(epoch: 1, revision: 2)
            try await alice.putKeyslot(honest)
            let forged = try testKeyslot(epoch: 1, revision: 1 << 40)
            try await alice.putKeyslot(forged)
            // The freshness rule stays: the honest revision is now stale...
            await #expect(throws: (any Error).self) { try await alice.putKeyslot(try testKeyslot(epoch: 1, revision: 3)) }
            // ...but it is not lost: the client can restore it at a revision above the forged one.
            let history = try await alice.keyslotHistory()
            #expect(history == [forged, honest])
            await alice.close()
        }
    }

    @Test func historySurvivesANodeRestart() async throws {
        let directory = try TemporaryDirectory()
        defer { directory.remove() }
        let configuration = NodeConfiguration(
            name: "N1", host: "127.0.0.1", port: 0, dataDirectory: directory.path + "/data", certificateFile: "",
            privateKeyFile: "", caFile: "", users: [:])
        var logger = Logger(label: "test-node")
        logger.logLevel = .critical
        let first = try StorageNode(inProcess: configuration, logger: logger)
        let slots = try (1...3).map { try testKeyslot(epoch: 1, revision: UInt64($0)) }
        for slot in slots { try first.metadata.putKeyslot(user: "alice", bytes: slot) }
        await first.shutdown()
        // A crash left a temporary history entry behind: the restart removes it and keeps the entries.
        let leftover = directory.path + "/data/users/alice/keyslots/.tmp-0123456789abcdef"
        #expect(FileManager.default.createFile(atPath: leftover, contents: Data([1, 2, 3])))
        let second = try StorageNode(inProcess: configuration, logger: logger)
        #expect(!FileManager.default.fileExists(atPath: leftover))
        #expect(try second.metadata.keyslotHistory(user: "alice") == slots.reversed())
        // A damaged entry is left out, never returned.
        let newest = directory.path + "/data/users/alice/keyslots/00000000000000000003"
        let handle = try #require(FileHandle(forUpdatingAtPath: newest))
        try handle.seek(toOffset: 10)
        try handle.write(contentsOf: Data([0xFF, 0xFF, 0xFF]))
        try handle.close()
        #expect(try second.metadata.keyslotHistory(user: "alice") == Array(slots.prefix(2).reversed()))
        await second.shutdown()
    }

    @Test func historyRepliesRoundTrip() throws {
        let entries = [randomBytes(300), [], randomBytes(1)]
        let reply = WireReply.getKeyslotHistory(entries: entries)
        let decoded = try WireReply.decode(type: WireFrameType.getKeyslotHistory.reply, payload: try reply.encodePayload())
        #expect(decoded == reply)
        #expect(try WireRequest.decode(type: .getKeyslotHistory, payload: []) == .getKeyslotHistory)
        #expect(throws: WireError.self) {
            try WireReply.getKeyslotHistory(entries: Array(repeating: [1], count: 9)).encodePayload()
        }
    }
}
