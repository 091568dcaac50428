/// A node's success reply to a request (frame type = request type | 0x80).
public enum WireReply: Equatable, Sendable {
    case hello(version: UInt16, nodeName: String, limits: WireNodeLimits)
    case login
    /// LOGIN_OK of a SCRAM LOGIN (method 2): the server-first-message; the login is not done yet.
    case loginChallenge(serverFirst: String)
    /// LOGIN_CONTINUE_OK: the server-final-message (`v=…`); the connection is logged in.
    case loginContinue(serverFinal: String)
    case status(WireNodeStatus)
    case putObject(length: UInt64)
    /// Followed by `sendLength` bytes in DATA frames, then END.
    case getObject(objectLength: UInt64, sendLength: UInt64)
    case statObject(length: UInt64, blockSize: UInt32, state: WireChecksumState)
    case deleteObject
    case list(entries: [WireListEntry], more: Bool)
    case putManifest
    case getManifest(bytes: [UInt8])
    case deleteManifest
    case putKeyslot
    case setVerifier
    case getKeyslot(bytes: [UInt8])
    /// Keyslots newest first: count (u8, at most `maxKeyslotHistory`), then per entry length (u32) and bytes.
    case getKeyslotHistory(entries: [[UInt8]])
    /// The first `answers.count` ids of a GET_MANIFESTS, in order (the rest did not fit the frame: ask again).
    case getManifests(answers: [WireManifestAnswer])
    /// One outcome per PUT_MANIFESTS item, in order: nil = stored durably, else why it was refused (what a single
    /// PUT_MANIFEST's ERROR would have said).
    case putManifests(results: [WireError?])

    /// Most entries a GET_KEYSLOT_HISTORY_OK carries.
    public static let maxKeyslotHistory = 8

    /// The frame type that carries this reply.
    public var frameType: WireFrameType {
        switch self {
        case .hello: return WireFrameType.hello.reply
        case .login, .loginChallenge: return WireFrameType.login.reply
        case .loginContinue: return WireFrameType.loginContinue.reply
        case .status: return WireFrameType.status.reply
        case .putObject: return WireFrameType.putObject.reply
        case .getObject: return WireFrameType.getObject.reply
        case .statObject: return WireFrameType.statObject.reply
        case .deleteObject: return WireFrameType.deleteObject.reply
        case .list: return WireFrameType.list.reply
        case .putManifest: return WireFrameType.putManifest.reply
        case .getManifest: return WireFrameType.getManifest.reply
        case .deleteManifest: return WireFrameType.deleteManifest.reply
        case .putKeyslot: return WireFrameType.putKeyslot.reply
        case .setVerifier: return WireFrameType.setVerifier.reply
        case .getKeyslot: return WireFrameType.getKeyslot.reply
        case .getKeyslotHistory: return WireFrameType.getKeyslotHistory.reply
        case .getManifests: return WireFrameType.getManifests.reply
        case .putManifests: return WireFrameType.putManifests.reply
        }
    }

    /// Bytes one LIST entry takes in a reply.
    public static func encodedLength(of entry: WireListEntry) -> Int { 2 + entry.name.utf8.count + 8 }

    public func encodePayload() throws(WireError) -> [UInt8] {
        var w = BigEndianWriter<WireError>()
        switch self {
        case let .hello(version, nodeName, limits):
            w.u16(version)
            try w.str16(nodeName, field: "node name")
            w.u32(limits.maxFrameLength)
            w.u32(limits.maxDataPayload)
            w.u16(limits.maxStreams)
            w.u64(limits.maxObjectLength)
        case .login, .deleteObject, .putManifest, .deleteManifest, .putKeyslot, .setVerifier:
            break
        case let .loginChallenge(message), let .loginContinue(message):
            try w.str16(message, field: "SCRAM message")
        case let .status(status):
            try w.str16(status.nodeName, field: "node name")
            w.u64(status.freeBytes)
            w.u64(status.totalBytes)
            w.u64(status.objectCount)
            w.u64(status.manifestCount)
            w.u64(status.uptimeSeconds)
            guard status.softwareVersion.utf8.count <= WireNodeStatus.maxVersionBytes else {
                throw WireError(.tooLarge, "STATUS version text is longer than \(WireNodeStatus.maxVersionBytes) bytes")
            }
            try w.str16(status.softwareVersion, field: "software version")
            w.u64(status.storedBytes)
            let scrub = status.lastScrub
            guard scrub?.finishedAt != 0 else {
                throw WireError(.malformed, "a STATUS scrub summary needs a finish time other than 0")
            }
            w.u64(scrub?.finishedAt ?? 0)
            w.u64(scrub?.filesChecked ?? 0)
            w.u64(scrub?.corrupt ?? 0)
            w.u64(scrub?.orphansReclaimed ?? 0)
            w.u64(scrub?.bytesReclaimed ?? 0)
        case let .putObject(length):
            w.u64(length)
        case let .getObject(objectLength, sendLength):
            w.u64(objectLength)
            w.u64(sendLength)
        case let .statObject(length, blockSize, state):
            w.u64(length)
            w.u32(blockSize)
            w.u8(state.rawValue)
        case let .list(entries, more):
            guard entries.count <= Int(UInt16.max) else { throw WireError(.tooLarge, "LIST page is too long") }
            w.u8(more ? 1 : 0)
            w.u16(UInt16(entries.count))
            for entry in entries {
                try w.str16(entry.name, field: "list entry")
                w.u64(entry.length)
            }
        case let .getManifest(bytes), let .getKeyslot(bytes):
            w.raw(bytes)
        case let .getManifests(answers):
            guard answers.count <= WireProtocol.maxManifestBatch else {
                throw WireError(.tooLarge, "GET_MANIFESTS_OK has more than \(WireProtocol.maxManifestBatch) answers")
            }
            w.u16(UInt16(answers.count))
            for answer in answers {
                switch answer {
                case .absent: w.u8(0)
                case let .manifest(bytes):
                    w.u8(1)
                    w.u32(UInt32(clamping: bytes.count))
                    w.raw(bytes)
                case .unreadable: w.u8(2)
                }
            }
        case let .putManifests(results):
            guard results.count <= WireProtocol.maxManifestPutBatch else {
                throw WireError(.tooLarge, "PUT_MANIFESTS_OK has more than \(WireProtocol.maxManifestPutBatch) results")
            }
            w.u16(UInt16(results.count))
            for result in results {
                w.u16(result?.code.rawValue ?? 0)
                w.str16(truncating: result?.message ?? "", maxBytes: WireProtocol.maxErrorMessageLength)
            }
        case let .getKeyslotHistory(entries):
            guard entries.count <= Self.maxKeyslotHistory else {
                throw WireError(.tooLarge, "more than \(Self.maxKeyslotHistory) keyslot history entries")
            }
            w.u8(UInt8(entries.count))
            for entry in entries {
                w.u32(UInt32(clamping: entry.count))
                w.raw(entry)
            }
        }
        return w.bytes
    }

    /// Decodes a reply frame's payload; nil when `type` is not a reply type this version knows.
    public static func decode(type: WireFrameType, payload: [UInt8]) throws(WireError) -> WireReply? {
        var r = BigEndianReader<WireError>(payload, context: type.description)
        let reply: WireReply
        switch type {
        case WireFrameType.hello.reply:
            let version = try r.u16()
            let name = try r.str16()
            let limits = WireNodeLimits(maxFrameLength: try r.u32(), maxDataPayload: try r.u32(),
                                        maxStreams: try r.u16(), maxObjectLength: try r.u64())
            reply = .hello(version: version, nodeName: name, limits: limits)
        case WireFrameType.login.reply:
            // Empty for method 1; the server-first-message for method 2.
            reply = r.remaining == 0 ? .login : .loginChallenge(serverFirst: try r.str16())
        case WireFrameType.loginContinue.reply: reply = .loginContinue(serverFinal: try r.str16())
        case WireFrameType.status.reply:
            reply = .status(try decodeStatus(&r))
        case WireFrameType.putObject.reply: reply = .putObject(length: try r.u64())
        case WireFrameType.getObject.reply: reply = .getObject(objectLength: try r.u64(), sendLength: try r.u64())
        case WireFrameType.statObject.reply:
            let length = try r.u64()
            let blockSize = try r.u32()
            guard let state = WireChecksumState(rawValue: try r.u8()) else {
                throw WireError(.malformed, "STAT_OBJECT_OK has an unknown checksum state", fatal: true)
            }
            reply = .statObject(length: length, blockSize: blockSize, state: state)
        case WireFrameType.deleteObject.reply: reply = .deleteObject
        case WireFrameType.list.reply:
            let more = try r.u8()
            guard more <= 1 else { throw WireError(.malformed, "LIST_OK more must be 0 or 1", fatal: true) }
            let count = Int(try r.u16())
            var entries: [WireListEntry] = []
            entries.reserveCapacity(count)
            for _ in 0..<count { entries.append(WireListEntry(name: try r.str16(), length: try r.u64())) }
            reply = .list(entries: entries, more: more == 1)
        case WireFrameType.putManifest.reply: reply = .putManifest
        case WireFrameType.getManifest.reply: reply = .getManifest(bytes: r.rest())
        case WireFrameType.deleteManifest.reply: reply = .deleteManifest
        case WireFrameType.putKeyslot.reply: reply = .putKeyslot
        case WireFrameType.setVerifier.reply: reply = .setVerifier
        case WireFrameType.getKeyslot.reply: reply = .getKeyslot(bytes: r.rest())
        case WireFrameType.getManifests.reply:
            let count = Int(try r.u16())
            guard count <= WireProtocol.maxManifestBatch else {
                throw WireError(.malformed, "GET_MANIFESTS_OK has too many answers", fatal: true)
            }
            var answers = [WireManifestAnswer]()
            answers.reserveCapacity(count)
            for _ in 0..<count {
                switch try r.u8() {
                case 0: answers.append(.absent)
                case 1:
                    let length = Int(try r.u32())
                    answers.append(.manifest(try r.raw(length)))
                case 2: answers.append(.unreadable)
                default: throw WireError(.malformed, "GET_MANIFESTS_OK has an unknown answer kind", fatal: true)
                }
            }
            reply = .getManifests(answers: answers)
        case WireFrameType.putManifests.reply:
            let count = Int(try r.u16())
            guard count <= WireProtocol.maxManifestPutBatch else {
                throw WireError(.malformed, "PUT_MANIFESTS_OK has too many results", fatal: true)
            }
            var results = [WireError?]()
            results.reserveCapacity(count)
            for _ in 0..<count {
                let code = try r.u16()
                let message = try r.str16()
                results.append(code == 0 ? nil : WireError(WireErrorCode(rawValue: code), message))
            }
            reply = .putManifests(results: results)
        case WireFrameType.getKeyslotHistory.reply:
            let count = Int(try r.u8())
            guard count <= Self.maxKeyslotHistory else {
                throw WireError(.malformed, "GET_KEYSLOT_HISTORY_OK has \(count) entries", fatal: true)
            }
            var entries: [[UInt8]] = []
            for _ in 0..<count {
                let length = Int(try r.u32())
                guard length <= WireProtocol.maxMetadataLength else {
                    throw WireError(.malformed, "keyslot history entry of \(length) bytes", fatal: true)
                }
                entries.append(try r.raw(length))
            }
            reply = .getKeyslotHistory(entries: entries)
        default: return nil
        }
        try r.expectEnd()
        return reply
    }

    /// STATUS_OK: the fields of docs/PROTOCOL.md in order; a scrub time of 0 ("never") must come with zero counts.
    private static func decodeStatus(_ r: inout BigEndianReader<WireError>) throws(WireError) -> WireNodeStatus {
        var status = WireNodeStatus(nodeName: try r.str16(), freeBytes: try r.u64(), totalBytes: try r.u64(),
                                    objectCount: try r.u64(), manifestCount: try r.u64(), uptimeSeconds: try r.u64())
        status.softwareVersion = try r.str16(maxBytes: WireNodeStatus.maxVersionBytes, field: "software version")
        status.storedBytes = try r.u64()
        let scrub = WireScrubSummary(finishedAt: try r.u64(), filesChecked: try r.u64(), corrupt: try r.u64(),
                                     orphansReclaimed: try r.u64(), bytesReclaimed: try r.u64())
        if scrub.finishedAt != 0 {
            status.lastScrub = scrub
        } else if scrub != WireScrubSummary(finishedAt: 0, filesChecked: 0, corrupt: 0, orphansReclaimed: 0,
                                            bytesReclaimed: 0) {
            throw WireError(.malformed, "STATUS_OK has scrub counts without a scrub time", fatal: true)
        }
        return status
    }
}
