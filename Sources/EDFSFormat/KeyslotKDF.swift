import EDFSCrypto

/// Key-derivation parameters of a keyslot (docs/FORMAT.md §4): a kind, a 16-byte salt and an iteration count.
///
/// - kind 1, PBKDF2: KEK = PBKDF2-HMAC-SHA256(password, salt, iterations).
/// - kind 2, SCRAM-linked: KEK = HMAC-SHA256(SaltedPassword, "edfs keyslot KEK v1"), where SaltedPassword =
///   PBKDF2-HMAC-SHA256(password, salt, iterations) is exactly SCRAM-SHA-256's SaltedPassword for the same salt and
///   iterations, so one PBKDF2 serves both the login and the keyslot.
public struct KeyslotKDF: Equatable, Sendable {
    /// The KDF byte of a keyslot header.
    public enum Kind: UInt8, Sendable {
        case pbkdf2 = 1
        case scramLinked = 2
    }

    public static let pbkdf2SHA256: UInt8 = Kind.pbkdf2.rawValue
    public static let scramLinked: UInt8 = Kind.scramLinked.rawValue
    public static let saltByteCount = 16
    /// Below this a keyslot is refused as a downgrade (tests may use fewer through `unchecked`).
    public static let minimumIterations: UInt32 = 100_000
    /// The HMAC label of a kind-2 KEK.
    public static let scramLinkedLabel = Array("edfs keyslot KEK v1".utf8)

    public var kind: Kind
    public var iterations: UInt32
    public var salt: [UInt8]

    public init(kind: Kind = .pbkdf2, iterations: UInt32, salt: [UInt8]) throws {
        guard salt.count == Self.saltByteCount else { throw FormatError.invalidField("keyslot salt", "must be 16 bytes") }
        guard iterations >= 1 else { throw FormatError.invalidField("keyslot iterations", "must be positive") }
        self.kind = kind
        self.iterations = iterations
        self.salt = salt
    }

    /// Fresh parameters with a random salt.
    public static func generate(kind: Kind = .pbkdf2, iterations: UInt32 = PBKDF2.defaultIterations) throws -> KeyslotKDF {
        try KeyslotKDF(kind: kind, iterations: iterations, salt: SecureRandom.bytes(saltByteCount))
    }

    /// The key-encryption key for `password` (one PBKDF2).
    public func deriveKEK(password: SecureBytes) throws -> SymmetricKey {
        try deriveKEK(saltedPassword: SymmetricKey(PBKDF2.deriveKey(password: password, salt: salt, iterations: iterations)))
    }

    /// The key-encryption key from SaltedPassword = PBKDF2-HMAC-SHA256(password, `salt`, `iterations`), the value a
    /// SCRAM login with the same salt and iterations already computed: kind 1 uses it as the KEK, kind 2 derives
    /// the KEK from it with HMAC, so no second PBKDF2 runs.
    public func deriveKEK(saltedPassword: SymmetricKey) throws -> SymmetricKey {
        switch kind {
        case .pbkdf2:
            return saltedPassword
        case .scramLinked:
            let mac = Digest.hmacSHA256(key: saltedPassword, Self.scramLinkedLabel)
            var copy = mac
            defer { secureWipe(&copy) }
            return try SymmetricKey(copying: copy)
        }
    }
}
