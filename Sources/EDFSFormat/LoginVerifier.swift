import EDFSCrypto

/// A SCRAM-SHA-256 login verifier in PostgreSQL's stored form,
/// `SCRAM-SHA-256$<iterations>:<salt base64>$<StoredKey base64>:<ServerKey base64>`.
/// It lets a node check a login without holding anything a client could log in with; testing a password guess
/// against it costs one PBKDF2 of `iterations` rounds. Never print or log it.
public struct SCRAMVerifier: Hashable, Sendable, CustomStringConvertible {
    /// The smallest iteration count a stored verifier may name (RFC 7677 §4's minimum).
    public static let minimumIterations: UInt32 = 4096
    static let prefix = "SCRAM-SHA-256$"

    public var iterations: UInt32
    public var salt: [UInt8]
    /// SHA-256(ClientKey), 32 bytes.
    public var storedKey: [UInt8]
    /// HMAC(SaltedPassword, "Server Key"), 32 bytes.
    public var serverKey: [UInt8]

    /// Checks the bounds: iterations ≥ 4096, salt 8…64 bytes, keys 32 bytes.
    public init(iterations: UInt32, salt: [UInt8], storedKey: [UInt8], serverKey: [UInt8]) throws(SCRAMError) {
        guard iterations >= Self.minimumIterations else {
            throw .malformed("SCRAM verifier iterations must be at least \(Self.minimumIterations)")
        }
        guard SCRAMMessages.saltLengths.contains(salt.count) else {
            throw .malformed("SCRAM verifier salt must be \(SCRAMMessages.saltLengths.lowerBound) to "
                + "\(SCRAMMessages.saltLengths.upperBound) bytes")
        }
        guard storedKey.count == SCRAM.keyByteCount, serverKey.count == SCRAM.keyByteCount else {
            throw .malformed("SCRAM verifier keys must be 32 bytes each")
        }
        self.iterations = iterations
        self.salt = salt
        self.storedKey = storedKey
        self.serverKey = serverKey
    }

    /// The verifier of a SaltedPassword computed with `salt` and `iterations`.
    public init(saltedPassword: SymmetricKey, salt: [UInt8], iterations: UInt32) throws {
        let keys = try SCRAM.verifierKeys(saltedPassword: saltedPassword)
        try self.init(iterations: iterations, salt: salt, storedKey: keys.storedKey.withUnsafeBytes { Array($0) },
                      serverKey: keys.serverKey.withUnsafeBytes { Array($0) })
    }

    /// The stored form.
    public var encoded: String {
        Self.prefix + "\(iterations):\(Base64.encode(salt))$\(Base64.encode(storedKey)):\(Base64.encode(serverKey))"
    }

    /// Never the verifier itself.
    public var description: String { "SCRAM-SHA-256 verifier (\(iterations) iterations)" }

    /// True when `text` starts like a SCRAM verifier (so a config parser can tell it from an MD5 digest).
    public static func looksLikeVerifier(_ text: String) -> Bool { text.hasPrefix(prefix) }

    /// Parses the stored form strictly (canonical base64, bounded fields).
    public static func parse(_ text: String) throws(SCRAMError) -> SCRAMVerifier {
        let bytes = Array(text.utf8)
        guard bytes.count <= 256 else { throw .malformed("SCRAM verifier is longer than 256 bytes") }
        guard text.hasPrefix(prefix) else { throw .malformed("SCRAM verifier must start with \(prefix)") }
        let rest = bytes.dropFirst(prefix.utf8.count)
        let halves = rest.split(separator: UInt8(ascii: "$"), omittingEmptySubsequences: false)
        guard halves.count == 2 else { throw .malformed("SCRAM verifier must be SCRAM-SHA-256$I:SALT$STOREDKEY:SERVERKEY") }
        let parameters = halves[0].split(separator: UInt8(ascii: ":"), omittingEmptySubsequences: false)
        let keys = halves[1].split(separator: UInt8(ascii: ":"), omittingEmptySubsequences: false)
        guard parameters.count == 2, keys.count == 2 else {
            throw .malformed("SCRAM verifier must be SCRAM-SHA-256$I:SALT$STOREDKEY:SERVERKEY")
        }
        let iterations = try SCRAMMessages.iterationCount(Array(parameters[0]))
        let salt = try SCRAMMessages.base64(Array(parameters[1]), counts: SCRAMMessages.saltLengths, what: "SCRAM verifier salt")
        let stored = try SCRAMMessages.base64(Array(keys[0]), counts: 32...32, what: "SCRAM verifier StoredKey")
        let server = try SCRAMMessages.base64(Array(keys[1]), counts: 32...32, what: "SCRAM verifier ServerKey")
        return try SCRAMVerifier(iterations: iterations, salt: salt, storedKey: stored, serverKey: server)
    }
}

/// What a node checks a user's login against: the seed's legacy MD5 digest, or a SCRAM-SHA-256 verifier.
public enum LoginVerifier: Hashable, Sendable, CustomStringConvertible {
    /// MD5(password), 16 bytes: password-equivalent for legacy logins.
    case md5([UInt8])
    case scram(SCRAMVerifier)

    /// Never the verifier itself.
    public var description: String {
        switch self {
        case .md5: return "legacy MD5 verifier"
        case let .scram(verifier): return verifier.description
        }
    }

    /// The `Password:` line value of a node config: 32 lowercase hex digits, or the SCRAM stored form.
    public var configValue: String {
        switch self {
        case let .md5(digest): return Hex.encode(digest)
        case let .scram(verifier): return verifier.encoded
        }
    }
}

extension LoginVerifier {
    /// The SET_VERIFIER method byte: 1 (MD5) or 2 (SCRAM-SHA-256).
    public var wireMethod: UInt8 {
        switch self {
        case .md5: return WireRequest.loginMethodMD5
        case .scram: return WireRequest.loginMethodSCRAM
        }
    }

    /// SET_VERIFIER's verifier bytes: the 16-byte digest, or u32 iterations ‖ u8 salt length ‖ salt ‖ StoredKey ‖ ServerKey.
    public var wireBytes: [UInt8] {
        switch self {
        case let .md5(digest):
            return digest
        case let .scram(verifier):
            var w = BigEndianWriter<WireError>()
            w.u32(verifier.iterations)
            w.u8(UInt8(truncatingIfNeeded: verifier.salt.count))
            w.raw(verifier.salt)
            w.raw(verifier.storedKey)
            w.raw(verifier.serverKey)
            return w.bytes
        }
    }

    /// Decodes SET_VERIFIER's method and bytes; refuses (not FATAL) an unknown method or bad sizes.
    public init(wireMethod method: UInt8, bytes: [UInt8]) throws(WireError) {
        switch method {
        case WireRequest.loginMethodMD5:
            guard bytes.count == 16 else { throw WireError(.malformed, "SET_VERIFIER method 1 takes a 16-byte MD5 digest") }
            self = .md5(bytes)
        case WireRequest.loginMethodSCRAM:
            var r = BigEndianReader<WireError>(bytes, context: "SET_VERIFIER")
            do throws(WireError) {
                let iterations = try r.u32()
                let saltLength = Int(try r.u8())
                guard SCRAMMessages.saltLengths.contains(saltLength) else {
                    throw WireError(.malformed, "SET_VERIFIER salt must be \(SCRAMMessages.saltLengths.lowerBound) to "
                        + "\(SCRAMMessages.saltLengths.upperBound) bytes")
                }
                let salt = try r.raw(saltLength)
                let stored = try r.raw(32)
                let server = try r.raw(32)
                try r.expectEnd()
                do {
                    self = .scram(try SCRAMVerifier(iterations: iterations, salt: salt, storedKey: stored, serverKey: server))
                } catch {
                    throw WireError(.malformed, "SET_VERIFIER: \(error.reason)")
                }
            } catch {
                throw WireError(.malformed, error.message.isEmpty ? "SET_VERIFIER method 2 does not parse" : error.message)
            }
        default:
            throw WireError(.malformed, "SET_VERIFIER method \(method) is unknown (1 = MD5, 2 = SCRAM-SHA-256)")
        }
    }
}
