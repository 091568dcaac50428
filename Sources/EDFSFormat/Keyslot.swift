import EDFSCrypto

/// A user's keyslot: KDF parameters, and the key bundle(s) wrapped under KEK = PBKDF2(password, salt).
///
/// Each bundle is epoch (u32) ‖ nonce ‖ AES-256-GCM(KEK, masterKey ‖ nameKey) ‖ tag with
/// AAD = header ‖ u8 length ‖ user name ‖ epoch, so a slot cannot be moved to another user, and no header
/// field (KDF parameters, epoch, revision) can change without every bundle failing.
public struct Keyslot: Sendable {
    public static let wrappedBundleByteCount = 4 + AESGCM.nonceByteCount + 2 * SymmetricKey.byteCount + AESGCM.tagByteCount

    public var header: KeyslotHeader
    /// The encoded keyslot, as stored on nodes.
    public var bytes: [UInt8]

    /// Wraps `bundles` (newest first; one or two) for `user` under `kek`.
    public static func seal(user: String, kek: SymmetricKey, kdf: KeyslotKDF, revision: UInt64,
                            bundles: [KeyBundle], reencrypting: Bool = false) throws -> Keyslot {
        try seal(user: user, kek: kek, kdf: kdf, revision: revision, bundles: bundles, reencrypting: reencrypting,
                 nonces: bundles.map { _ in try SecureRandom.bytes(AESGCM.nonceByteCount) })
    }

    /// `seal` with one given nonce per bundle, for reproducible test vectors only (a nonce must never repeat
    /// under a KEK).
    package static func seal(user: String, kek: SymmetricKey, kdf: KeyslotKDF, revision: UInt64,
                             bundles: [KeyBundle], reencrypting: Bool = false, nonces: [[UInt8]]) throws -> Keyslot {
        guard bundles.count == 1 || bundles.count == 2 else {
            throw FormatError.invalidField("keyslot bundles", "must be one or two")
        }
        guard nonces.count == bundles.count else {
            throw FormatError.invalidField("keyslot nonces", "must be one per bundle")
        }
        let header = KeyslotHeader(kdf: kdf, epoch: bundles[0].epoch, revision: revision, bundleCount: UInt8(bundles.count),
                                   reencrypting: reencrypting && bundles.count == 2)
        let headerBytes = header.encoded()
        var bytes = headerBytes
        for (bundle, nonce) in zip(bundles, nonces) {
            var plain = [UInt8]()
            plain.reserveCapacity(2 * SymmetricKey.byteCount)
            bundle.masterKey.withUnsafeBytes { plain.append(contentsOf: $0) }
            bundle.nameKey.withUnsafeBytes { plain.append(contentsOf: $0) }
            defer { secureWipe(&plain) }
            let aad = try bundleAAD(headerBytes: headerBytes, user: user, epoch: bundle.epoch)
            let box = try plain.withUnsafeBytes { p in try aad.withUnsafeBytes { try AESGCM.sealBox(p, key: kek, aad: $0, nonce: nonce) } }
            var writer = BigEndianWriter<FormatError>()
            writer.u32(bundle.epoch)
            writer.raw(box)
            bytes += writer.bytes
        }
        return Keyslot(header: header, bytes: bytes)
    }

    /// Parses a stored keyslot (without unlocking it).
    public static func decode(_ bytes: [UInt8]) throws -> Keyslot {
        let header = try KeyslotHeader.decode(prefixOf: bytes)
        guard bytes.count == header.keyslotLength else {
            throw bytes.count < header.keyslotLength ? FormatError.truncated("keyslot") : FormatError.trailingBytes("keyslot")
        }
        return Keyslot(header: header, bytes: bytes)
    }

    /// Unwraps every bundle with `kek` (newest first). Throws `KeyslotError.wrongPassword` if the KEK is wrong.
    public func unlock(user: String, kek: SymmetricKey) throws -> [KeyBundle] {
        let headerBytes = Array(bytes[0..<KeyslotHeader.byteCount])
        var bundles = [KeyBundle]()
        for index in 0..<Int(header.bundleCount) {
            let start = KeyslotHeader.byteCount + index * Self.wrappedBundleByteCount
            var reader = BigEndianReader<FormatError>(Array(bytes[start..<(start + Self.wrappedBundleByteCount)]), context: "keyslot bundle")
            let epoch = try reader.u32()
            let box = try reader.raw(reader.remaining)
            let aad = try Self.bundleAAD(headerBytes: headerBytes, user: user, epoch: epoch)
            let plain: SecureBytes
            do {
                plain = try box.withUnsafeBytes { b in try aad.withUnsafeBytes { try AESGCM.openBox(b, key: kek, aad: $0) } }
            } catch CryptoError.authenticationFailed {
                throw KeyslotError.wrongPassword
            }
            bundles.append(try KeyBundle(epoch: epoch, masterKey: SymmetricKey(plain.slice(0..<32)),
                                         nameKey: SymmetricKey(plain.slice(32..<64))))
        }
        return bundles
    }

    /// Derives the KEK from `password` (one PBKDF2) and unwraps every bundle.
    /// Refuses slots whose work factor is below `minimumIterations`.
    public func unlock(user: String, password: SecureBytes,
                       minimumIterations: UInt32 = KeyslotKDF.minimumIterations) throws -> (kek: SymmetricKey, bundles: [KeyBundle]) {
        guard header.kdf.iterations >= minimumIterations else { throw KeyslotError.weakKDF(iterations: header.kdf.iterations) }
        let kek = try header.kdf.deriveKEK(password: password)
        return (kek, try unlock(user: user, kek: kek))
    }

    private static func bundleAAD(headerBytes: [UInt8], user: String, epoch: UInt32) throws -> [UInt8] {
        let userBytes = Array(user.utf8)
        guard !userBytes.isEmpty, userBytes.count <= 255 else { throw FormatError.invalidField("user name", "must be 1…255 bytes") }
        var writer = BigEndianWriter<FormatError>()
        writer.raw(headerBytes)
        writer.u8(UInt8(userBytes.count))
        writer.raw(userBytes)
        writer.u32(epoch)
        return writer.bytes
    }
}
