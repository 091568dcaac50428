import COpenSSL

/// One EVP context bound to one key, re-armed with a new nonce per message.
///
/// The cipher and key are set once; each message calls `EVP_*Init_ex` with only the nonce, so a worker
/// that seals thousands of segments does no per-segment allocation or key schedule. Not thread-safe:
/// each worker owns its own context.
public final class AESGCMContext {
    public enum Direction: Sendable { case seal, open }

    private let context: OpaquePointer
    private let cipher: OpaquePointer
    public let direction: Direction

    /// A context for `direction` under `key`.
    public init(key: SymmetricKey, direction: Direction) throws {
        guard let cipher = EVP_CIPHER_fetch(nil, "AES-256-GCM", nil) else {
            throw CryptoError.openSSL(function: "EVP_CIPHER_fetch")
        }
        guard let context = EVP_CIPHER_CTX_new() else {
            EVP_CIPHER_free(cipher)
            throw CryptoError.openSSL(function: "EVP_CIPHER_CTX_new")
        }
        self.cipher = cipher
        self.context = context
        self.direction = direction
        let ok: Int32 = key.withUnsafeBytes { keyBytes in
            let keyPointer = keyBytes.baseAddress?.assumingMemoryBound(to: UInt8.self)
            switch direction {
            case .seal:
                guard EVP_EncryptInit_ex(context, cipher, nil, nil, nil) == 1,
                      edfs_evp_cipher_ctx_set_ivlen(context, Int32(AESGCM.nonceByteCount)) == 1 else { return 0 }
                return EVP_EncryptInit_ex(context, nil, nil, keyPointer, nil)
            case .open:
                guard EVP_DecryptInit_ex(context, cipher, nil, nil, nil) == 1,
                      edfs_evp_cipher_ctx_set_ivlen(context, Int32(AESGCM.nonceByteCount)) == 1 else { return 0 }
                return EVP_DecryptInit_ex(context, nil, nil, keyPointer, nil)
            }
        }
        // deinit frees context and cipher (the key schedule inside is cleansed by EVP_CIPHER_CTX_free).
        guard ok == 1 else { throw CryptoError.openSSL(function: "EVP_CipherInit_ex") }
    }

    deinit {
        EVP_CIPHER_CTX_free(context)
        EVP_CIPHER_free(cipher)
    }

    /// Encrypts `plaintext` into `ciphertext` (same length) and writes the 16-byte tag to `tag`.
    /// `aad` and then `aadSuffix` are authenticated, as if concatenated.
    public func seal(nonce: UnsafeRawBufferPointer, aad: UnsafeRawBufferPointer,
                     aadSuffix: UnsafeRawBufferPointer = UnsafeRawBufferPointer(start: nil, count: 0),
                     plaintext: UnsafeRawBufferPointer,
                     ciphertext: UnsafeMutableRawPointer?, tag: UnsafeMutableRawPointer) throws {
        precondition(direction == .seal, "sealing with an opening context")
        try checkNonce(nonce)
        guard EVP_EncryptInit_ex(context, nil, nil, nil, nonce.baseAddress?.assumingMemoryBound(to: UInt8.self)) == 1
        else { throw CryptoError.openSSL(function: "EVP_EncryptInit_ex") }
        var written: Int32 = 0
        try absorbAAD(aad)
        try absorbAAD(aadSuffix)
        if plaintext.count > 0 {
            guard let output = ciphertext?.assumingMemoryBound(to: UInt8.self) else {
                throw CryptoError.invalidParameter("no ciphertext buffer")
            }
            try forEachChunk(plaintext.count) { offset, length in
                guard EVP_EncryptUpdate(context, output + offset, &written,
                                        plaintext.baseAddress?.advanced(by: offset).assumingMemoryBound(to: UInt8.self),
                                        length) == 1, Int(written) == Int(length)
                else { throw CryptoError.openSSL(function: "EVP_EncryptUpdate") }
            }
        }
        var scratch = (UInt64(0), UInt64(0))  // GCM writes no bytes at final; give it a valid pointer anyway
        let finalOK = withUnsafeMutableBytes(of: &scratch) { buffer in
            EVP_EncryptFinal_ex(context, buffer.baseAddress?.assumingMemoryBound(to: UInt8.self), &written)
        }
        guard finalOK == 1, edfs_evp_cipher_ctx_get_tag(context, Int32(AESGCM.tagByteCount), tag) == 1
        else { throw CryptoError.openSSL(function: "EVP_EncryptFinal_ex") }
    }

    /// Decrypts `ciphertext` into `plaintext` and verifies `tag`; on failure the output is zeroed
    /// and `CryptoError.authenticationFailed` is thrown.
    public func open(nonce: UnsafeRawBufferPointer, aad: UnsafeRawBufferPointer,
                     aadSuffix: UnsafeRawBufferPointer = UnsafeRawBufferPointer(start: nil, count: 0),
                     ciphertext: UnsafeRawBufferPointer, tag: UnsafeRawBufferPointer,
                     plaintext: UnsafeMutableRawPointer?) throws {
        guard tag.count == AESGCM.tagByteCount else {
            throw CryptoError.invalidLength(what: "tag", expected: AESGCM.tagByteCount, actual: tag.count)
        }
        var authenticated = false
        defer {  // on any failure, never hand out unauthenticated plaintext
            if !authenticated, ciphertext.count > 0, let output = plaintext { OPENSSL_cleanse(output, ciphertext.count) }
        }
        try beginOpen(nonce: nonce, aad: aad, aadSuffix: aadSuffix)
        if ciphertext.count > 0 {
            guard let output = plaintext else { throw CryptoError.invalidParameter("no plaintext buffer") }
            try openPart(ciphertext, into: output)
        }
        try finishOpen(tag: tag)
        authenticated = true
    }

    /// Starts opening one message in parts (`openPart` for each run of its ciphertext, in order, then `finishOpen`):
    /// for ciphertext that arrives in pieces, decrypted where it lies. What `openPart` writes is not authentic until
    /// `finishOpen` returns; the caller must not use it before, and must wipe it when `finishOpen` throws.
    public func beginOpen(nonce: UnsafeRawBufferPointer, aad: UnsafeRawBufferPointer,
                          aadSuffix: UnsafeRawBufferPointer = UnsafeRawBufferPointer(start: nil, count: 0)) throws {
        precondition(direction == .open, "opening with a sealing context")
        try checkNonce(nonce)
        guard EVP_DecryptInit_ex(context, nil, nil, nil, nonce.baseAddress?.assumingMemoryBound(to: UInt8.self)) == 1
        else { throw CryptoError.openSSL(function: "EVP_DecryptInit_ex") }
        try absorbAAD(aad)
        try absorbAAD(aadSuffix)
    }

    /// Decrypts the next `ciphertext.count` bytes of the message begun with `beginOpen` into `plaintext`.
    public func openPart(_ ciphertext: UnsafeRawBufferPointer, into plaintext: UnsafeMutableRawPointer) throws {
        let output = plaintext.assumingMemoryBound(to: UInt8.self)
        var written: Int32 = 0
        try forEachChunk(ciphertext.count) { offset, length in
            guard EVP_DecryptUpdate(context, output + offset, &written,
                                    ciphertext.baseAddress?.advanced(by: offset).assumingMemoryBound(to: UInt8.self),
                                    length) == 1, Int(written) == Int(length)
            else { throw CryptoError.openSSL(function: "EVP_DecryptUpdate") }
        }
    }

    /// Verifies the message begun with `beginOpen` against `tag` (16 bytes); throws `CryptoError.authenticationFailed`
    /// when it does not match.
    public func finishOpen(tag: UnsafeRawBufferPointer) throws {
        guard tag.count == AESGCM.tagByteCount else {
            throw CryptoError.invalidLength(what: "tag", expected: AESGCM.tagByteCount, actual: tag.count)
        }
        var tagCopy = (UInt64(0), UInt64(0))
        withUnsafeMutableBytes(of: &tagCopy) { $0.copyMemory(from: tag) }
        let tagOK = withUnsafeMutableBytes(of: &tagCopy) {
            edfs_evp_cipher_ctx_set_tag(context, Int32(AESGCM.tagByteCount), $0.baseAddress)
        }
        guard tagOK == 1 else { throw CryptoError.openSSL(function: "EVP_CTRL_GCM_SET_TAG") }
        var written: Int32 = 0
        var scratch = (UInt64(0), UInt64(0))
        let finalOK = withUnsafeMutableBytes(of: &scratch) { buffer in
            EVP_DecryptFinal_ex(context, buffer.baseAddress?.assumingMemoryBound(to: UInt8.self), &written)
        }
        guard finalOK == 1 else { throw CryptoError.authenticationFailed }
    }

    /// Feeds additional authenticated data (EVP_CipherUpdate with no output works for both directions).
    @inline(__always)
    private func absorbAAD(_ part: UnsafeRawBufferPointer) throws {
        guard part.count > 0 else { return }
        guard part.count <= Int(Int32.max) else { throw CryptoError.invalidParameter("AAD too long") }
        var written: Int32 = 0
        guard EVP_CipherUpdate(context, nil, &written, part.baseAddress?.assumingMemoryBound(to: UInt8.self),
                               Int32(part.count)) == 1
        else { throw CryptoError.openSSL(function: "EVP_CipherUpdate(aad)") }
    }

    private func checkNonce(_ nonce: UnsafeRawBufferPointer) throws {
        guard nonce.count == AESGCM.nonceByteCount else {
            throw CryptoError.invalidLength(what: "nonce", expected: AESGCM.nonceByteCount, actual: nonce.count)
        }
    }

    /// EVP lengths are `Int32`; longer messages go through in chunks.
    private func forEachChunk(_ total: Int, _ body: (Int, Int32) throws -> Void) rethrows {
        let maxChunk = 1 << 30
        var offset = 0
        while offset < total {
            let length = Swift.min(maxChunk, total - offset)
            try body(offset, Int32(length))
            offset += length
        }
    }
}
