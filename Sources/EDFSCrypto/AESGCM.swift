/// AES-256-GCM with 12-byte nonces and 16-byte tags.
public enum AESGCM {
    public static let nonceByteCount = 12
    public static let tagByteCount = 16
}

extension AESGCM {
    /// Seals `plaintext` under `key` with a fresh random nonce: returns nonce ‖ ciphertext ‖ tag.
    /// For keys that encrypt many small objects (master key, key-encryption key).
    public static func sealBox(_ plaintext: UnsafeRawBufferPointer, key: SymmetricKey,
                               aad: UnsafeRawBufferPointer) throws -> [UInt8] {
        try sealBox(plaintext, key: key, aad: aad, nonce: SecureRandom.bytes(nonceByteCount))
    }

    /// Seals `plaintext` under `key` with the given 12-byte nonce: nonce ‖ ciphertext ‖ tag. Only for reproducible
    /// test vectors: a nonce must never be used twice under one key, so production code calls the random-nonce form.
    package static func sealBox(_ plaintext: UnsafeRawBufferPointer, key: SymmetricKey,
                                aad: UnsafeRawBufferPointer, nonce: [UInt8]) throws -> [UInt8] {
        guard nonce.count == nonceByteCount else {
            throw CryptoError.invalidLength(what: "nonce", expected: nonceByteCount, actual: nonce.count)
        }
        var box = [UInt8](repeating: 0, count: nonceByteCount + plaintext.count + tagByteCount)
        let context = try AESGCMContext(key: key, direction: .seal)
        try box.withUnsafeMutableBytes { out in
            guard let base = out.baseAddress else { throw CryptoError.invalidParameter("empty box buffer") }
            out.copyBytes(from: nonce)
            try nonce.withUnsafeBytes { nonceBytes in
                try context.seal(nonce: nonceBytes, aad: aad, plaintext: plaintext,
                                 ciphertext: base + nonceByteCount,
                                 tag: base + nonceByteCount + plaintext.count)
            }
        }
        return box
    }

    /// Opens a box made by `sealBox` into wiped memory.
    public static func openBox(_ box: UnsafeRawBufferPointer, key: SymmetricKey,
                               aad: UnsafeRawBufferPointer) throws -> SecureBytes {
        guard box.count >= nonceByteCount + tagByteCount else { throw CryptoError.authenticationFailed }
        let length = box.count - nonceByteCount - tagByteCount
        let context = try AESGCMContext(key: key, direction: .open)
        return try SecureBytes(count: length) { out in
            try context.open(nonce: UnsafeRawBufferPointer(rebasing: box[0..<nonceByteCount]), aad: aad,
                             ciphertext: UnsafeRawBufferPointer(rebasing: box[nonceByteCount..<(nonceByteCount + length)]),
                             tag: UnsafeRawBufferPointer(rebasing: box[(nonceByteCount + length)...]),
                             plaintext: out.baseAddress)
        }
    }
}
