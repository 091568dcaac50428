import EDFSFormat
import EDFSNode
import Testing

/// The frame and message codec (EDFSFormat/Wire*.swift) and the stored-file footer, without any I/O.
@Suite struct WireCodecTests {
    static let requests: [WireRequest] = [
        .hello(versions: [1, 2], client: "edfs"), .login(method: 1, user: "rohan", proof: "c916d142f0dc7f9389653a164f1d4e9d"),
        .status, .setVerifier(method: 1, verifier: [2, 3]), .putObject(id: "a-b_c.1", length: 1 << 40),
        .getObject(id: "x", offset: 7, length: .max, window: 8 << 20), .statObject(id: "x", verify: true),
        .deleteObject(id: "x"), .list(kind: .manifests, startAfter: "abc", limit: 1000),
        .putManifest(id: "m", bytes: [1, 2, 3, 4]), .getManifest(id: "m"), .deleteManifest(id: "m", ifVersionAtMost: 9),
        .putKeyslot(bytes: [5, 6]), .getKeyslot, .putManifest(id: "empty", bytes: []),
    ]

    @Test(arguments: WireCodecTests.requests)
    func requestsRoundTrip(_ request: WireRequest) throws {
        let payload = try request.encodePayload()
        #expect(try WireRequest.decode(type: request.frameType, payload: payload) == request)
        // Any trailing byte makes it malformed, except where the payload ends in "rest of the bytes".
        switch request {
        case .setVerifier, .putManifest, .putKeyslot: break
        default:
            #expect(throws: WireError.self) { try WireRequest.decode(type: request.frameType, payload: payload + [0]) }
        }
        if !payload.isEmpty {
            switch request {
            case .setVerifier, .putManifest, .putKeyslot: break
            default:
                #expect(throws: WireError.self) { try WireRequest.decode(type: request.frameType, payload: payload.dropLast()) }
            }
        }
    }

    static let replies: [WireReply] = [
        .hello(version: 1, nodeName: "DFS1", limits: WireNodeLimits(maxFrameLength: 1 << 20, maxDataPayload: 1 << 20,
                                                                   maxStreams: 32, maxObjectLength: 1 << 36)),
        .login, .status(WireNodeStatus(nodeName: "n", freeBytes: 1, totalBytes: 2, objectCount: 3, manifestCount: 4,
                                       uptimeSeconds: 5)),
        .putObject(length: 9), .getObject(objectLength: 10, sendLength: 3),
        .statObject(length: 5, blockSize: 1 << 20, state: .corrupt), .deleteObject,
        .list(entries: [WireListEntry(name: "a", length: 1), WireListEntry(name: "b", length: .max)], more: true),
        .putManifest, .getManifest(bytes: [1, 2]), .deleteManifest, .putKeyslot, .getKeyslot(bytes: [3]),
    ]

    @Test(arguments: WireCodecTests.replies)
    func repliesRoundTrip(_ reply: WireReply) throws {
        let payload = try reply.encodePayload()
        #expect(try WireReply.decode(type: reply.frameType, payload: payload) == reply)
        #expect(reply.frameType.rawValue & 0x80 != 0)
    }

    @Test func badRequestPayloadsAreMalformed() throws {
        let cases: [(WireFrameType, [UInt8])] = [
            (.hello, Array("EDFX".utf8) + [1, 0, 1, 0, 0]),   // bad magic
            (.hello, Array("EDFS".utf8) + [0, 0, 0]),         // no versions
            (.hello, Array("EDFS".utf8) + [17] + [UInt8](repeating: 0, count: 36)),  // too many versions
            (.statObject, [0, 1, 0x61, 2]),                    // verify flag 2
            (.list, [3, 0, 0, 0, 5]),                          // unknown kind
            (.list, [1, 0, 0, 0, 0]),                          // limit 0
            (.list, [1, 0, 0, 0x03, 0xE9]),                    // limit 1001
            (.putObject, [0, 2, 0xFF, 0xFE, 0, 0, 0, 0, 0, 0, 0, 1]),  // id not UTF-8
            (.login, [1, 0]),                                  // truncated
            (.getObject, [0, 1, 0x61] + [UInt8](repeating: 0, count: 20)),  // window 0
        ]
        for (type, payload) in cases {
            do {
                _ = try WireRequest.decode(type: type, payload: payload)
                Issue.record("\(type) \(payload) decoded")
            } catch {
                #expect(error.code == .malformed && error.fatal)
            }
        }
        #expect(try WireRequest.decode(type: WireFrameType(rawValue: 0x77), payload: []) == nil)
        #expect(try WireWindow.decode(payload: WireWindow.encode(increment: 99)) == 99)
        #expect(throws: WireError.self) { try WireWindow.decode(payload: [0, 0, 0, 0]) }
    }

    @Test func frameHeaders() throws {
        let header = WireFrameHeader(type: .data, requestID: 0xDEAD_BEEF, payloadLength: 1 << 20)
        let bytes = header.encoded
        #expect(bytes == [0x00, 0x10, 0x00, 0x06, 0x40, 0x00, 0xDE, 0xAD, 0xBE, 0xEF])
        #expect(try bytes.withUnsafeBytes { try WireFrameHeader.decode($0, maxLengthField: 2 << 20) } == header)
        // Too large is refused from the length field alone, before the rest arrives.
        #expect(throws: WireError(.tooLarge, "frame length 1048582 is over the limit of 1000", fatal: true)) {
            try bytes.prefix(4).withUnsafeBytes { try WireFrameHeader.decode(UnsafeRawBufferPointer($0), maxLengthField: 1000) }
        }
        // Partial headers are "need more".
        #expect(try bytes.prefix(7).withUnsafeBytes { try WireFrameHeader.decode(UnsafeRawBufferPointer($0), maxLengthField: 2 << 20) } == nil)
        var buffer = [UInt8](repeating: 0, count: 10)
        buffer.withUnsafeMutableBytes { header.encode(into: $0) }
        #expect(buffer == bytes)
        let error = WireError(.checksumMismatch, String(repeating: "é", count: 400), fatal: true)
        let decoded = try WireError.decode(payload: error.encodedPayload, flags: .fatal)
        #expect(decoded.code == .checksumMismatch && decoded.fatal)
        #expect(decoded.message.utf8.count <= WireProtocol.maxErrorMessageLength)
        #expect(WireFrameType.getObject.reply.description == "GET_OBJECT_OK")
    }

    @Test func idAlphabet() {
        for good in ["a", "A-Z_0.9", "0123456789abcdef0123456789abcdef", String(repeating: "x", count: 128), "a.b.c"] {
            #expect(WireName.isValidID(good), "\(good)")
        }
        for bad in ["", ".", "..", ".a", "a..b", "a/b", "../x", "/etc/passwd", "a\u{0}", "a b", "ä",
                    String(repeating: "x", count: 129), "a\\b", "a:b"] {
            #expect(!WireName.isValidID(bad), "\(bad)")
        }
    }

    @Test func crc64IsCRC64XZAndChains() {
        #expect(BlockCRC.crc64(Array("123456789".utf8)) == 0x995D_C9BB_DF19_39FA)
        let data = randomBytes(100_000)
        let whole = BlockCRC.crc64(data)
        let first = BlockCRC.crc64(Array(data[..<33333]))
        #expect(BlockCRC.crc64(Array(data[33333...]), continuing: first) == whole)
    }

    @Test func storedFooterRoundTripsAndCatchesDamage() throws {
        let footer = StoredFooter(dataLength: 2 * 4096 + 10, blockSize: 4096, blockCRCs: [1, 2, 3])
        let encoded = footer.encoded()
        #expect(encoded.count == 3 * 8 + 32)
        let table = Array(encoded[..<24])
        let trailer = Array(encoded[24...])
        #expect(StoredFooter.decode(table: table, trailer: trailer, fileSize: footer.fileSize) == footer)
        #expect(StoredFooter.decode(table: table, trailer: trailer, fileSize: footer.fileSize + 1) == nil)
        var badTable = table
        badTable[3] ^= 1
        #expect(StoredFooter.decode(table: badTable, trailer: trailer, fileSize: footer.fileSize) == nil)
        var badTrailer = trailer
        badTrailer[31] ^= 1
        #expect(StoredFooter.decode(table: table, trailer: badTrailer, fileSize: footer.fileSize) == nil)
        #expect(StoredFooter.blockCount(dataLength: 0, blockSize: 4096) == 0)
        #expect(StoredFooter.blockCount(dataLength: 4097, blockSize: 4096) == 2)
    }
}

extension WireRequest: CustomTestStringConvertible {
    public var testDescription: String { frameType.description }
}

extension WireReply: CustomTestStringConvertible {
    public var testDescription: String { frameType.description }
}
