import EDFSClient
import EDFSFormat
import EDFSNode
import Foundation
import Testing

/// GET_MANIFESTS: many manifests per round trip for listings (issue 13: no round trip per file).
@Suite struct BulkManifestTests {
    @Test("answers every id in order — held, absent, unreadable — across as many frames as a small frame bound needs")
    func bulkFetchAcrossFrames() async throws {
        var limits = NodeLimits()
        limits.maxFrameLength = 16 << 10  // 40 manifests of ~1 KiB need at least three replies
        try await withNode(limits: limits) { node in
            let connection = try await node.connect()
            var stored = [String: [UInt8]]()
            for version in 1...40 {
                let id = try randomManifestID()
                let bytes = try testManifest(id: id, version: UInt64(version), bodyLength: 1000)
                try await connection.putManifest(id.hex, bytes: bytes)
                stored[id.hex] = bytes
            }
            let damaged = try #require(stored.keys.sorted().first)
            try flipByte(node.dataDirectory + "/users/alice/manifests/" + damaged, at: 60)
            let absent = try randomManifestID().hex
            let answers = try await connection.getManifests(stored.keys.sorted() + [absent])
            #expect(answers.count == 41)
            #expect(answers[absent] == .absent)
            #expect(answers[damaged] == .unreadable)
            for (id, bytes) in stored where id != damaged { #expect(answers[id] == .manifest(bytes)) }
            await connection.close()
        }
    }

    @Test("the request and its reply round-trip through the codec; bad counts and kinds are malformed")
    func codec() throws {
        let ids = (0..<3).map { String(repeating: "\($0)", count: 32) }
        let request = WireRequest.getManifests(ids: ids)
        #expect(try WireRequest.decode(type: .getManifests, payload: request.encodePayload()) == request)
        #expect(throws: WireError.self) { _ = try WireRequest.getManifests(ids: []).encodePayload() }
        #expect(throws: WireError.self) { _ = try WireRequest.decode(type: .getManifests, payload: [0, 0]) }
        let reply = WireReply.getManifests(answers: [.absent, .manifest([1, 2, 3]), .unreadable])
        #expect(try WireReply.decode(type: WireFrameType.getManifests.reply, payload: reply.encodePayload()) == reply)
        #expect(throws: WireError.self) {
            _ = try WireReply.decode(type: WireFrameType.getManifests.reply, payload: [0, 1, 9])
        }
        #expect(throws: WireError.self) {
            _ = try WireReply.decode(type: WireFrameType.getManifests.reply, payload: [0, 1, 1, 0, 0, 0, 9, 1])
        }
    }
}
