import EDFSCrypto

/// Key-derivation parameters of a keyslot: PBKDF2-HMAC-SHA256 with a 16-byte salt.
public struct KeyslotKDF: Equatable, Sendable {
    public static let pbkdf2SHA256: UInt8 = 1
    public static let saltByteCount = 16
    /// Below this a keyslot is refused as a downgrade (tests may use fewer through `unchecked`).
    public static let minimumIterations: UInt32 = 100_000

    public var iterations: UInt32
    public var salt: [UInt8]

    public init(iterations: UInt32, salt: [UInt8]) throws {
        guard salt.count == Self.saltByteCount else { throw FormatError.invalidField("keyslot salt", "must be 16 bytes") }
        guard iterations >= 1 else { throw FormatError.invalidField("keyslot iterations", "must be positive") }
        self.iterations = iterations
        self.salt = salt
    }

    /// Fresh parameters with a random salt.
    public static func generate(iterations: UInt32 = PBKDF2.defaultIterations) throws -> KeyslotKDF {
        try KeyslotKDF(iterations: iterations, salt: SecureRandom.bytes(saltByteCount))
    }

    /// The key-encryption key for `password`.
    public func deriveKEK(password: SecureBytes) throws -> SymmetricKey {
        try SymmetricKey(PBKDF2.deriveKey(password: password, salt: salt, iterations: iterations))
    }
}
