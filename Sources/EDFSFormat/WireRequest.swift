/// A request a client sends (docs/PROTOCOL.md, "Frame types"): one frame, whose type names the operation.
/// PUT_OBJECT is followed by DATA frames and END; the stream frames are not requests.
public enum WireRequest: Equatable, Sendable {
    case hello(versions: [UInt16], client: String)
    /// `method` 1 is legacy MD5: `proof` is the 32 hex digits of MD5(password). `method` 2 is SCRAM-SHA-256:
    /// `proof` is the client-first-message (the reply carries the server-first-message).
    case login(method: UInt8, user: String, proof: String)
    /// The second SCRAM round trip: the client-final-message (the reply carries the server-final-message).
    case loginContinue(message: String)
    case status
    /// Replaces the caller's login verifier (`edfs passwd`): `method` 1 is legacy MD5, `verifier` the 16-byte
    /// MD5 digest of the new password; `method` 2 is SCRAM-SHA-256, `verifier` = u32 iterations ‖ u8 salt length ‖
    /// salt ‖ 32-byte StoredKey ‖ 32-byte ServerKey (`LoginVerifier.wireBytes`). The node checks it
    /// (`LoginVerifier(wireMethod:bytes:)`).
    case setVerifier(method: UInt8, verifier: [UInt8])
    case putObject(id: String, length: UInt64)
    case getObject(id: String, offset: UInt64, length: UInt64, window: UInt32)
    case statObject(id: String, verify: Bool)
    case deleteObject(id: String)
    case list(kind: WireListKind, startAfter: String, limit: UInt16)
    case putManifest(id: String, bytes: [UInt8])
    case getManifest(id: String)
    /// Up to `WireProtocol.maxManifestBatch` manifests at once; the node answers a prefix that fits one frame.
    case getManifests(ids: [String])
    /// 1 to `WireProtocol.maxManifestPutBatch` manifest writes, each checked and answered as its own PUT_MANIFEST.
    case putManifests(items: [WireManifestWrite])
    case deleteManifest(id: String, ifVersionAtMost: UInt64)
    case putKeyslot(bytes: [UInt8])
    case getKeyslot
    /// The node's last accepted keyslots for the caller, newest first (no payload).
    case getKeyslotHistory

    /// The legacy MD5 login method.
    public static let loginMethodMD5: UInt8 = 1
    /// The SCRAM-SHA-256 login method.
    public static let loginMethodSCRAM: UInt8 = 2

    /// SET_VERIFIER carrying `verifier`.
    public static func setVerifier(_ verifier: LoginVerifier) -> WireRequest {
        .setVerifier(method: verifier.wireMethod, verifier: verifier.wireBytes)
    }

    /// The frame type that carries this request.
    public var frameType: WireFrameType {
        switch self {
        case .hello: return .hello
        case .login: return .login
        case .loginContinue: return .loginContinue
        case .status: return .status
        case .setVerifier: return .setVerifier
        case .putObject: return .putObject
        case .getObject: return .getObject
        case .statObject: return .statObject
        case .deleteObject: return .deleteObject
        case .list: return .list
        case .putManifest: return .putManifest
        case .getManifest: return .getManifest
        case .getManifests: return .getManifests
        case .putManifests: return .putManifests
        case .deleteManifest: return .deleteManifest
        case .putKeyslot: return .putKeyslot
        case .getKeyslot: return .getKeyslot
        case .getKeyslotHistory: return .getKeyslotHistory
        }
    }

    /// The frame payload. Throws `too large` when a string field does not fit its length prefix.
    public func encodePayload() throws(WireError) -> [UInt8] {
        var w = BigEndianWriter<WireError>()
        switch self {
        case let .hello(versions, client):
            w.raw(WireProtocol.magic)
            w.u8(UInt8(truncatingIfNeeded: versions.count))
            for version in versions { w.u16(version) }
            try w.str16(client, field: "client name")
        case let .login(method, user, proof):
            w.u8(method)
            try w.str16(user, field: "user name")
            try w.str16(proof, field: "login proof")
        case let .loginContinue(message):
            try w.str16(message, field: "SCRAM message")
        case .status, .getKeyslot, .getKeyslotHistory:
            break
        case let .setVerifier(method, verifier):
            w.u8(method)
            w.raw(verifier)
        case let .putObject(id, length):
            try w.str16(id, field: "object id")
            w.u64(length)
        case let .getObject(id, offset, length, window):
            try w.str16(id, field: "object id")
            w.u64(offset)
            w.u64(length)
            w.u32(window)
        case let .statObject(id, verify):
            try w.str16(id, field: "object id")
            w.u8(verify ? 1 : 0)
        case let .deleteObject(id):
            try w.str16(id, field: "object id")
        case let .list(kind, startAfter, limit):
            w.u8(kind.rawValue)
            try w.str16(startAfter, field: "list position")
            w.u16(limit)
        case let .putManifest(id, bytes):
            try w.str16(id, field: "manifest id")
            w.raw(bytes)
        case let .getManifest(id):
            try w.str16(id, field: "manifest id")
        case let .getManifests(ids):
            guard !ids.isEmpty, ids.count <= WireProtocol.maxManifestBatch else {
                throw WireError(.tooLarge, "GET_MANIFESTS takes 1 to \(WireProtocol.maxManifestBatch) ids")
            }
            w.u16(UInt16(ids.count))
            for id in ids { try w.str16(id, field: "manifest id") }
        case let .putManifests(items):
            guard !items.isEmpty, items.count <= WireProtocol.maxManifestPutBatch else {
                throw WireError(.tooLarge, "PUT_MANIFESTS takes 1 to \(WireProtocol.maxManifestPutBatch) manifests")
            }
            w.u16(UInt16(items.count))
            for item in items {
                try w.str16(item.id, field: "manifest id")
                guard item.bytes.count <= WireProtocol.maxMetadataLength else {
                    throw WireError(.tooLarge, "a manifest is larger than \(WireProtocol.maxMetadataLength) bytes")
                }
                w.u32(UInt32(item.bytes.count))
                w.raw(item.bytes)
            }
        case let .deleteManifest(id, bound):
            try w.str16(id, field: "manifest id")
            w.u64(bound)
        case let .putKeyslot(bytes):
            w.raw(bytes)
        }
        return w.bytes
    }

    /// Decodes a request frame's payload. Returns nil when `type` is not a request type this version knows
    /// (the node answers `unsupported`); throws `malformed` (FATAL) when the payload does not parse exactly.
    public static func decode(type: WireFrameType, payload: [UInt8]) throws(WireError) -> WireRequest? {
        var r = BigEndianReader<WireError>(payload, context: type.description)
        let request: WireRequest
        switch type {
        case .hello:
            let magic = try r.raw(WireProtocol.magic.count)
            guard magic == WireProtocol.magic else { throw WireError(.malformed, "HELLO has a bad magic", fatal: true) }
            let count = Int(try r.u8())
            guard (1...16).contains(count) else {
                throw WireError(.malformed, "HELLO lists \(count) versions (1 to 16 allowed)", fatal: true)
            }
            var versions: [UInt16] = []
            for _ in 0..<count { versions.append(try r.u16()) }
            let client = try r.str16()
            guard client.utf8.count <= WireProtocol.maxClientNameLength else {
                throw WireError(.malformed, "HELLO client name is longer than 64 bytes", fatal: true)
            }
            request = .hello(versions: versions, client: client)
        case .login:
            let method = try r.u8()
            request = .login(method: method, user: try r.str16(), proof: try r.str16())
        case .loginContinue:
            request = .loginContinue(message: try r.str16())
        case .status:
            request = .status
        case .setVerifier:
            request = .setVerifier(method: try r.u8(), verifier: r.rest())
        case .putObject:
            request = .putObject(id: try r.str16(), length: try r.u64())
        case .getObject:
            let (id, offset, length, window) = (try r.str16(), try r.u64(), try r.u64(), try r.u32())
            guard window >= 1 else { throw WireError(.malformed, "GET_OBJECT window must be at least 1", fatal: true) }
            request = .getObject(id: id, offset: offset, length: length, window: window)
        case .statObject:
            let id = try r.str16()
            let verify = try r.u8()
            guard verify <= 1 else { throw WireError(.malformed, "STAT_OBJECT verify must be 0 or 1", fatal: true) }
            request = .statObject(id: id, verify: verify == 1)
        case .deleteObject:
            request = .deleteObject(id: try r.str16())
        case .list:
            guard let kind = WireListKind(rawValue: try r.u8()) else {
                throw WireError(.malformed, "LIST kind must be 1 or 2", fatal: true)
            }
            let startAfter = try r.str16()
            let limit = try r.u16()
            guard limit >= 1, Int(limit) <= WireProtocol.maxListLimit else {
                throw WireError(.malformed, "LIST limit must be 1 to \(WireProtocol.maxListLimit)", fatal: true)
            }
            request = .list(kind: kind, startAfter: startAfter, limit: limit)
        case .putManifest:
            request = .putManifest(id: try r.str16(), bytes: r.rest())
        case .getManifest:
            request = .getManifest(id: try r.str16())
        case .getManifests:
            let count = Int(try r.u16())
            guard count >= 1, count <= WireProtocol.maxManifestBatch else {
                throw WireError(.malformed, "GET_MANIFESTS count must be 1 to \(WireProtocol.maxManifestBatch)", fatal: true)
            }
            var ids = [String]()
            ids.reserveCapacity(count)
            for _ in 0..<count { ids.append(try r.str16()) }
            request = .getManifests(ids: ids)
        case .putManifests:
            let count = Int(try r.u16())
            guard count >= 1, count <= WireProtocol.maxManifestPutBatch else {
                throw WireError(.malformed, "PUT_MANIFESTS count must be 1 to \(WireProtocol.maxManifestPutBatch)",
                                fatal: true)
            }
            var items = [WireManifestWrite]()
            items.reserveCapacity(count)
            for _ in 0..<count {
                let id = try r.str16()
                let length = Int(try r.u32())
                guard length <= WireProtocol.maxMetadataLength else {
                    throw WireError(.malformed, "PUT_MANIFESTS item of \(length) bytes", fatal: true)
                }
                items.append(WireManifestWrite(id: id, bytes: try r.raw(length)))
            }
            request = .putManifests(items: items)
        case .deleteManifest:
            request = .deleteManifest(id: try r.str16(), ifVersionAtMost: try r.u64())
        case .putKeyslot:
            request = .putKeyslot(bytes: r.rest())
        case .getKeyslot:
            request = .getKeyslot
        case .getKeyslotHistory:
            request = .getKeyslotHistory
        default:
            return nil
        }
        try r.expectEnd()
        return request
    }
}
