import COpenSSL

/// The SCRAM-SHA-256 key schedule (RFC 5802 §3, RFC 7677), over libcrypto:
///
///     SaltedPassword  = Hi(password, salt, i)            (PBKDF2-HMAC-SHA256, 32 bytes)
///     ClientKey       = HMAC(SaltedPassword, "Client Key")
///     StoredKey       = SHA-256(ClientKey)
///     ServerKey       = HMAC(SaltedPassword, "Server Key")
///     ClientSignature = HMAC(StoredKey, AuthMessage)
///     ClientProof     = ClientKey XOR ClientSignature
///     ServerSignature = HMAC(ServerKey, AuthMessage)
///
/// Every intermediate key lives in wiped memory (`SymmetricKey`); proofs and signatures are plain bytes (they
/// travel on the wire). Messages and their syntax are EDFSFormat's `SCRAMMessages`.
public enum SCRAM {
    /// Bytes of every key, proof and signature (SHA-256).
    public static let keyByteCount = 32

    /// Hi(password, salt, i) = PBKDF2-HMAC-SHA256: SCRAM's SaltedPassword.
    public static func saltedPassword(password: SecureBytes, salt: [UInt8], iterations: UInt32) throws -> SymmetricKey {
        try SymmetricKey(PBKDF2.deriveKey(password: password, salt: salt, iterations: iterations))
    }

    /// ClientKey = HMAC(SaltedPassword, "Client Key").
    public static func clientKey(saltedPassword: SymmetricKey) throws -> SymmetricKey {
        try SymmetricKey(hmac(key: saltedPassword, Array("Client Key".utf8)))
    }

    /// ServerKey = HMAC(SaltedPassword, "Server Key").
    public static func serverKey(saltedPassword: SymmetricKey) throws -> SymmetricKey {
        try SymmetricKey(hmac(key: saltedPassword, Array("Server Key".utf8)))
    }

    /// StoredKey = SHA-256(ClientKey).
    public static func storedKey(clientKey: SymmetricKey) throws -> SymmetricKey {
        try SymmetricKey(SecureBytes(count: keyByteCount) { out in
            let ok = clientKey.withUnsafeBytes { key in
                EVP_Digest(key.baseAddress, key.count, out.baseAddress?.assumingMemoryBound(to: UInt8.self), nil,
                           EVP_sha256(), nil)
            }
            guard ok == 1 else { throw CryptoError.openSSL(function: "EVP_Digest") }
        })
    }

    /// The server's verifier for a password: (StoredKey, ServerKey) from its SaltedPassword.
    public static func verifierKeys(saltedPassword: SymmetricKey) throws -> (storedKey: SymmetricKey, serverKey: SymmetricKey) {
        let client = try clientKey(saltedPassword: saltedPassword)
        return (try storedKey(clientKey: client), try serverKey(saltedPassword: saltedPassword))
    }

    /// ClientProof = ClientKey XOR HMAC(StoredKey, AuthMessage), computed by the client.
    public static func clientProof(saltedPassword: SymmetricKey, authMessage: [UInt8]) throws -> [UInt8] {
        let client = try clientKey(saltedPassword: saltedPassword)
        let stored = try storedKey(clientKey: client)
        let signature = hmac(key: stored, authMessage)
        return client.withUnsafeBytes { key in
            signature.withUnsafeBytes { sig in (0..<keyByteCount).map { key[$0] ^ sig[$0] } }
        }
    }

    /// ServerSignature = HMAC(ServerKey, AuthMessage): what the server sends in `v=`, and what the client expects.
    public static func serverSignature(serverKey: SymmetricKey, authMessage: [UInt8]) -> [UInt8] {
        hmac(key: serverKey, authMessage).withUnsafeBytes { Array($0) }
    }

    /// The server's check of a ClientProof: recovers ClientKey = proof XOR HMAC(StoredKey, AuthMessage) and
    /// compares SHA-256 of it with StoredKey in constant time. False for a proof of the wrong length.
    public static func verifyProof(_ proof: [UInt8], storedKey: SymmetricKey, authMessage: [UInt8]) -> Bool {
        let signature = hmac(key: storedKey, authMessage)
        // A proof of the wrong length is compared as zeros, so the work done does not depend on it.
        let given = proof.count == keyByteCount ? proof : [UInt8](repeating: 0, count: keyByteCount)
        let recovered = signature.withUnsafeBytes { sig in
            SecureBytes(count: keyByteCount) { out in
                for index in 0..<keyByteCount { out[index] = sig[index] ^ given[index] }
            }
        }
        guard let recoveredKey = try? SymmetricKey(recovered), let recomputed = try? Self.storedKey(clientKey: recoveredKey)
        else { return false }
        return recomputed.bytes.constantTimeEquals(storedKey.bytes) && proof.count == keyByteCount
    }

    /// Constant-time comparison of a received ServerSignature with the expected one.
    public static func signaturesMatch(_ received: [UInt8], _ expected: [UInt8]) -> Bool {
        ConstantTime.equals(received, expected)
    }

    /// HMAC-SHA256 into wiped memory.
    static func hmac(key: SymmetricKey, _ data: [UInt8]) -> SecureBytes {
        SecureBytes(count: keyByteCount) { out in
            key.withUnsafeBytes { keyBytes in
                data.withUnsafeBytes { message in
                    var outLength: UInt32 = 0
                    let ok = HMAC(EVP_sha256(), keyBytes.baseAddress, Int32(keyBytes.count),
                                  message.baseAddress?.assumingMemoryBound(to: UInt8.self), message.count,
                                  out.baseAddress?.assumingMemoryBound(to: UInt8.self), &outLength)
                    // HMAC of in-memory bytes under a 32-byte key fails only if libcrypto itself is broken.
                    precondition(ok != nil && outLength == 32, "HMAC-SHA256 failed in libcrypto")
                }
            }
        }
    }
}
