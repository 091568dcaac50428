import EDFSCrypto

/// A manifest: cleartext header ‖ nonce ‖ AES-256-GCM(masterKey, body, AAD = header) ‖ tag.
public enum Manifest {
    /// Seals `body` under `masterKey`; `sealedBodyLength` in the header is filled in here.
    public static func seal(manifestID: ManifestID, version: UInt64, fileID: FileID, keyEpoch: UInt32,
                            body: ManifestBody, masterKey: SymmetricKey) throws -> [UInt8] {
        try seal(manifestID: manifestID, version: version, fileID: fileID, keyEpoch: keyEpoch, body: body,
                 masterKey: masterKey, nonce: SecureRandom.bytes(AESGCM.nonceByteCount))
    }

    /// `seal` with a given body nonce, for reproducible test vectors only (a nonce must never repeat under masterKey).
    package static func seal(manifestID: ManifestID, version: UInt64, fileID: FileID, keyEpoch: UInt32,
                             body: ManifestBody, masterKey: SymmetricKey, nonce: [UInt8]) throws -> [UInt8] {
        try seal(manifestID: manifestID, version: version, fileID: fileID, keyEpoch: keyEpoch,
                 encodedBody: body.encoded(), masterKey: masterKey, nonce: nonce)
    }

    /// Seals an already encoded body as it stands, for test vectors of bodies the encoder refuses to write.
    package static func seal(manifestID: ManifestID, version: UInt64, fileID: FileID, keyEpoch: UInt32,
                             encodedBody plain: SecureBytes, masterKey: SymmetricKey, nonce: [UInt8]) throws -> [UInt8] {
        let sealedLength = plain.count + AESGCM.nonceByteCount + AESGCM.tagByteCount
        guard sealedLength <= Int(ManifestHeader.maximumBodyLength) else {
            throw FormatError.invalidField("manifest body", "is too large")
        }
        let header = ManifestHeader(manifestID: manifestID, version: version, fileID: fileID, keyEpoch: keyEpoch,
                                    sealedBodyLength: UInt32(sealedLength))
        let headerBytes = header.encoded()
        let box = try plain.withUnsafeBytes { plainBytes in
            try headerBytes.withUnsafeBytes { aad in
                try AESGCM.sealBox(plainBytes, key: masterKey, aad: aad, nonce: nonce)
            }
        }
        return headerBytes + box
    }

    /// Opens a stored manifest. A wrong key or any changed byte throws `FormatError.authenticationFailed`.
    public static func open(_ bytes: [UInt8], masterKey: SymmetricKey) throws -> (header: ManifestHeader, body: ManifestBody) {
        let header = try ManifestHeader.decode(prefixOf: bytes)
        guard bytes.count == header.manifestLength else {
            throw bytes.count < header.manifestLength ? FormatError.truncated("manifest") : FormatError.trailingBytes("manifest")
        }
        let plain: SecureBytes
        do {
            plain = try bytes.withUnsafeBytes { all in
                try AESGCM.openBox(UnsafeRawBufferPointer(rebasing: all[ManifestHeader.byteCount...]), key: masterKey,
                                   aad: UnsafeRawBufferPointer(rebasing: all[0..<ManifestHeader.byteCount]))
            }
        } catch CryptoError.authenticationFailed {
            throw FormatError.authenticationFailed("manifest")
        }
        let body = try ManifestBody.decode(plain)
        return (header, body)
    }
}
