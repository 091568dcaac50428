import EDFSClient
import EDFSFormat
import EDFSNode
import Foundation
import Testing

/// PUT_MANIFESTS: many manifest writes per round trip (issue 15, small files), each checked and answered as its own
/// PUT_MANIFEST; bounded per request.
@Suite struct BulkManifestWriteTests {
    @Test("each item gets what its own PUT_MANIFEST would: stored, stale, another id, no header; only the stored ones land")
    func perItemOutcomes() async throws {
        try await withNode { node in
            let connection = try await node.connect()
            let held = try randomManifestID()
            try await connection.putManifest(held.hex, bytes: try testManifest(id: held, version: 5))
            let fresh = try randomManifestID()
            let newer = try testManifest(id: held, version: 6)
            let freshBytes = try testManifest(id: fresh, version: 1)
            let other = try randomManifestID()
            let items = [
                WireManifestWrite(id: fresh.hex, bytes: freshBytes),                        // stored
                WireManifestWrite(id: held.hex, bytes: try testManifest(id: held, version: 4)),  // stale: 4 ≤ 5
                WireManifestWrite(id: other.hex, bytes: try testManifest(id: fresh, version: 1)),  // header names another id
                WireManifestWrite(id: try randomManifestID().hex, bytes: [1, 2, 3]),       // no header
                WireManifestWrite(id: held.hex, bytes: newer),                              // stored: 6 > 5
                WireManifestWrite(id: held.hex, bytes: try testManifest(id: held, version: 6)),  // stale against the item before
            ]
            let outcomes = try await connection.putManifests(items)
            #expect(outcomes.count == items.count)
            #expect(outcomes[0] == nil)
            #expect(outcomes[1] as? NodeLinkError == .stale)
            #expect(nodeCode(try #require(outcomes[2])) == .malformed)
            #expect(nodeCode(try #require(outcomes[3])) == .malformed)
            #expect(outcomes[4] == nil)
            #expect(outcomes[5] as? NodeLinkError == .stale)
            #expect(try await connection.getManifest(fresh.hex) == freshBytes)
            #expect(try await connection.getManifest(held.hex) == newer)
            #expect(try await connection.getManifest(other.hex) == nil)
            #expect(node.temporaryFiles().isEmpty)
            await connection.close()
        }
    }

    @Test("the request and its reply round-trip; more than 256 items or an item over 1 MiB cannot be encoded")
    func codec() throws {
        let items = (0..<3).map { WireManifestWrite(id: String(repeating: "\($0)", count: 32), bytes: [UInt8($0), 9]) }
        let request = WireRequest.putManifests(items: items)
        #expect(try WireRequest.decode(type: .putManifests, payload: request.encodePayload()) == request)
        let reply = WireReply.putManifests(results: [nil, WireError(.staleVersion, "old"), nil])
        #expect(try WireReply.decode(type: WireFrameType.putManifests.reply, payload: reply.encodePayload()) == reply)
        let many = Array(repeating: items[0], count: WireProtocol.maxManifestPutBatch + 1)
        #expect(throws: WireError.self) { _ = try WireRequest.putManifests(items: many).encodePayload() }
        #expect(throws: WireError.self) { _ = try WireRequest.putManifests(items: []).encodePayload() }
        let huge = WireManifestWrite(id: items[0].id, bytes: [UInt8](repeating: 0, count: WireProtocol.maxMetadataLength + 1))
        #expect(throws: WireError.self) { _ = try WireRequest.putManifests(items: [huge]).encodePayload() }
        // NodeConnection cuts a long list into requests within the count and the frame.
        let cut = NodeConnection.manifestBatches(Array(repeating: items[0], count: 600), maxPayload: 1 << 20)
        #expect(cut.map(\.count) == [256, 256, 88])
        let bySize = NodeConnection.manifestBatches(Array(repeating: WireManifestWrite(id: items[0].id,
                                                                                      bytes: [UInt8](repeating: 0, count: 400)),
                                                          count: 10), maxPayload: 1000)
        #expect(bySize.allSatisfy { $0.count == 2 } && bySize.count == 5)
    }

    @Test("beyond the bounds (257 items; an item longer than its frame) the request is refused, FATAL for that connection only")
    func bounds() async throws {
        try await withNode { node in
            let held = try randomManifestID()
            let bytes = try testManifest(id: held, version: 1)
            // 257 items, written by hand (the encoder refuses them).
            var payload: [UInt8] = [0x01, 0x01]
            for _ in 0...WireProtocol.maxManifestPutBatch {
                payload += [0, 32] + Array(held.hex.utf8) + [0, 0, 0, UInt8(bytes.count)] + bytes
            }
            // One item that claims 2 MiB.
            let claimed: [UInt8] = [0, 1, 0, 32] + Array(held.hex.utf8) + [0, 0x20, 0, 0] + bytes
            for bad in [payload, claimed] {
                let client = try await RawClient.connect(port: node.port, caFile: node.keys + "/ca.crt")
                try await client.helloAndLogin()
                try await client.sendFrame(.putManifests, id: 3, payload: bad)
                let error = try #require(wireError(try await client.receiveUntilClosed().last))
                #expect(error.code == .malformed && error.fatal, "\(error)")
                await client.close()
            }
            // Nothing was stored, and the node serves others.
            let connection = try await node.connect()
            #expect(try await connection.getManifest(held.hex) == nil)
            await connection.close()
            try await node.assertServesGoodClient()
        }
    }

    @Test("a node that predates PUT_MANIFESTS answers it unsupported; the client sends single PUT_MANIFESTs instead")
    func olderNodeGetsSingleWrites() async throws {
        let node = try await TestNode(configure: { $0.servesBulkManifestWrites = false })
        do {
            let connection = try await node.connect()
            let ids = try (0..<5).map { _ in try randomManifestID() }
            let manifests = try ids.map { try testManifest(id: $0, version: 1) }
            let items = zip(ids, manifests).map { WireManifestWrite(id: $0.hex, bytes: $1) }
            let first = try await connection.putManifests(items)
            #expect(first.count == 5 && first.allSatisfy { $0 == nil }, "\(first)")
            // Again (now straight to single writes): each item its own single write's answer, stale.
            let second = try await connection.putManifests(items)
            #expect(second.count == 5 && second.allSatisfy { ($0 as? NodeLinkError) == .stale }, "\(second)")
            for (id, bytes) in zip(ids, manifests) { #expect(try await connection.getManifest(id.hex) == bytes) }
            await connection.close()
        } catch {
            await node.stop()
            throw error
        }
        await node.stop()
    }
}
