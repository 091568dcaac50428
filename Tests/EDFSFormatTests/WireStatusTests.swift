import EDFSFormat
import Testing

/// STATUS_OK (docs/PROTOCOL.md, 0x03): the encoder and the decoder agree field by field, and the decoder is strict.
@Suite struct WireStatusTests {
    static let scrubbed = WireNodeStatus(
        nodeName: "DFS2", freeBytes: 1 << 40, totalBytes: 2 << 40, objectCount: 12, manifestCount: 3,
        uptimeSeconds: 86_461, softwareVersion: "1.2.3-test", storedBytes: 123_456_789,
        lastScrub: WireScrubSummary(finishedAt: 1_718_000_000, filesChecked: 15, corrupt: 2, orphansReclaimed: 4,
                                    bytesReclaimed: 9_999))
    static let neverScrubbed = WireNodeStatus(nodeName: "n", freeBytes: 1, totalBytes: 2, objectCount: 3, manifestCount: 4,
                                              uptimeSeconds: 5, softwareVersion: "", storedBytes: 0, lastScrub: nil)

    @Test(arguments: [scrubbed, neverScrubbed])
    func roundTrips(_ status: WireNodeStatus) throws {
        let payload = try WireReply.status(status).encodePayload()
        #expect(try WireReply.decode(type: WireFrameType.status.reply, payload: payload) == .status(status))
        #expect(throws: WireError.self) { try WireReply.decode(type: WireFrameType.status.reply, payload: payload + [0]) }
        #expect(throws: WireError.self) {
            try WireReply.decode(type: WireFrameType.status.reply, payload: Array(payload.dropLast()))
        }
    }

    @Test func theLayoutIsTheDocumentedOne() throws {
        let payload = try WireReply.status(Self.scrubbed).encodePayload()
        var expected: [UInt8] = [0, 4] + Array("DFS2".utf8)
        for value: UInt64 in [1 << 40, 2 << 40, 12, 3, 86_461] { expected += bigEndian(value) }
        expected += [0, 10] + Array("1.2.3-test".utf8)
        for value: UInt64 in [123_456_789, 1_718_000_000, 15, 2, 4, 9_999] { expected += bigEndian(value) }
        #expect(payload == expected)
        // Never scrubbed: a time of 0 and zero counts.
        let never = try WireReply.status(Self.neverScrubbed).encodePayload()
        #expect(Array(never.suffix(48)) == [UInt8](repeating: 0, count: 48))
    }

    @Test func theDecoderRefusesWhatTheEncoderNeverWrites() throws {
        let good = try WireReply.status(Self.neverScrubbed).encodePayload()
        // Counts with a scrub time of 0.
        var counts = good
        counts[counts.count - 1] = 1
        #expect(throws: WireError.self) { try WireReply.decode(type: WireFrameType.status.reply, payload: counts) }
        // A version text longer than 64 bytes.
        var long = WireNodeStatus(nodeName: "n", freeBytes: 0, totalBytes: 0, objectCount: 0, manifestCount: 0,
                                  uptimeSeconds: 0, softwareVersion: String(repeating: "v", count: 64))
        let payload = try WireReply.status(long).encodePayload()
        var tooLong = payload
        let versionAt = 2 + 1 + 5 * 8
        tooLong[versionAt + 1] = 65
        tooLong.insert(UInt8(ascii: "v"), at: versionAt + 2)
        #expect(throws: WireError.self) { try WireReply.decode(type: WireFrameType.status.reply, payload: tooLong) }
        long.softwareVersion += "v"
        #expect(throws: WireError.self) { try WireReply.status(long).encodePayload() }
        // A scrub summary with time 0 is not encodable either.
        var zero = Self.scrubbed
        zero.lastScrub?.finishedAt = 0
        #expect(throws: WireError.self) { try WireReply.status(zero).encodePayload() }
    }

    private func bigEndian(_ value: UInt64) -> [UInt8] { (0..<8).map { UInt8(truncatingIfNeeded: value >> (56 - 8 * $0)) } }
}
