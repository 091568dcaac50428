import COpenSSL

/// PBKDF2-HMAC-SHA256 (`PKCS5_PBKDF2_HMAC`), the key-encryption-key derivation of a keyslot.
public enum PBKDF2 {
    /// The default work factor (OWASP 2023 guidance for PBKDF2-HMAC-SHA256).
    public static let defaultIterations: UInt32 = 600_000
    /// The smallest work factor a keyslot may name; lower is refused as a downgrade.
    public static let minimumIterations: UInt32 = 1

    /// Derives `length` bytes from `password` and `salt` with `iterations` rounds.
    public static func deriveKey(password: SecureBytes, salt: [UInt8], iterations: UInt32,
                                 length: Int = SymmetricKey.byteCount) throws -> SecureBytes {
        guard iterations >= minimumIterations, iterations <= UInt32(Int32.max) else {
            throw CryptoError.invalidParameter("PBKDF2 iteration count \(iterations)")
        }
        guard length > 0, length <= 1024 else { throw CryptoError.invalidParameter("PBKDF2 output length \(length)") }
        guard password.count <= 1 << 20, salt.count <= 1 << 20 else {
            throw CryptoError.invalidParameter("PBKDF2 password or salt longer than 1 MiB")
        }
        return try SecureBytes(count: length) { out in
            let ok = password.withUnsafeBytes { pw in
                salt.withUnsafeBytes { saltBytes in
                    PKCS5_PBKDF2_HMAC(pw.baseAddress?.assumingMemoryBound(to: CChar.self), Int32(pw.count),
                                      saltBytes.baseAddress?.assumingMemoryBound(to: UInt8.self), Int32(saltBytes.count),
                                      Int32(iterations), EVP_sha256(), Int32(length),
                                      out.baseAddress?.assumingMemoryBound(to: UInt8.self))
                }
            }
            guard ok == 1 else { throw CryptoError.openSSL(function: "PKCS5_PBKDF2_HMAC") }
        }
    }
}
