/// A 256-bit symmetric key (AES-256, HMAC-SHA256) held in wiped memory.
public struct SymmetricKey: Sendable {
    public static let byteCount = 32
    /// The key bytes.
    public let bytes: SecureBytes

    /// Wraps existing secret bytes; they must be exactly 32 long.
    public init(_ bytes: SecureBytes) throws {
        guard bytes.count == Self.byteCount else {
            throw CryptoError.invalidLength(what: "key", expected: Self.byteCount, actual: bytes.count)
        }
        self.bytes = bytes
    }

    /// Copies raw key bytes (tests and decoding); prefer `generate()` for new keys.
    public init(copying raw: some Collection<UInt8>) throws {
        try self.init(SecureBytes(copying: raw))
    }

    /// A fresh random key.
    public static func generate() throws -> SymmetricKey {
        try SymmetricKey(SecureBytes.random(count: byteCount))
    }

    public func withUnsafeBytes<R>(_ body: (UnsafeRawBufferPointer) throws -> R) rethrows -> R {
        try bytes.withUnsafeBytes(body)
    }
}
