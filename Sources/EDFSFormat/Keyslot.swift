import EDFSCrypto

/// A user's key bundle for one key epoch: the master key (seals manifests, and with them every file's data key)
/// and the name key (derives manifest ids from paths).
public struct KeyBundle: Sendable {
    public var epoch: UInt32
    public var masterKey: SymmetricKey
    public var nameKey: SymmetricKey

    public init(epoch: UInt32, masterKey: SymmetricKey, nameKey: SymmetricKey) {
        self.epoch = epoch
        self.masterKey = masterKey
        self.nameKey = nameKey
    }

    /// Fresh random keys for `epoch`.
    public static func generate(epoch: UInt32) throws -> KeyBundle {
        try KeyBundle(epoch: epoch, masterKey: .generate(), nameKey: .generate())
    }
}

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

/// The cleartext header of a keyslot (docs/FORMAT.md §4). Nodes read `epoch` and `revision` to refuse stale
/// keyslots: a put must `supersede` the stored one (higher revision, no older epoch), or be byte-identical.
public struct KeyslotHeader: Equatable, Sendable {
    public static let magic: [UInt8] = Array("EDSK".utf8)
    public static let formatVersion: UInt8 = 1
    public static let byteCount = 44

    public var kdf: KeyslotKDF
    /// The newest key epoch in the slot.
    public var epoch: UInt32
    /// Grows with every change to the slot (password change, rotation start and end).
    public var revision: UInt64
    /// How many wrapped bundles follow: 1, or 2 while a rotation is unfinished.
    public var bundleCount: UInt8
    /// Set while an unfinished rotation also re-encrypts every file (`key rotate --reencrypt`), so a resumed
    /// rotation finishes the same job.
    public var reencrypting: Bool

    public init(kdf: KeyslotKDF, epoch: UInt32, revision: UInt64, bundleCount: UInt8, reencrypting: Bool = false) {
        self.kdf = kdf
        self.epoch = epoch
        self.revision = revision
        self.bundleCount = bundleCount
        self.reencrypting = reencrypting
    }

    static let reencryptingFlag: UInt8 = 0x01

    public func encoded() -> [UInt8] {
        var writer = BinaryWriter(capacity: Self.byteCount)
        writer.raw(Self.magic)
        writer.u8(Self.formatVersion)
        writer.u8(KeyslotKDF.pbkdf2SHA256)
        writer.zeros(2)
        writer.u32(kdf.iterations)
        writer.raw(kdf.salt)
        writer.u32(epoch)
        writer.u64(revision)
        writer.u8(bundleCount)
        writer.u8(reencrypting ? Self.reencryptingFlag : 0)
        writer.zeros(2)
        return writer.bytes
    }

    /// Decodes the header from the first 44 bytes of `bytes`.
    public static func decode(prefixOf bytes: [UInt8]) throws -> KeyslotHeader {
        guard bytes.count >= byteCount else { throw FormatError.truncated("keyslot header") }
        var reader = BinaryReader(Array(bytes[0..<byteCount]), context: "keyslot header")
        guard try reader.raw(4) == magic else { throw FormatError.badMagic("keyslot") }
        let version = try reader.u8()
        guard version == formatVersion else { throw FormatError.unsupportedVersion("keyslot", version) }
        let kdfID = try reader.u8()
        guard kdfID == KeyslotKDF.pbkdf2SHA256 else { throw FormatError.invalidField("keyslot KDF", "is unknown (\(kdfID))") }
        try reader.reserved(2)
        let kdf = try KeyslotKDF(iterations: reader.u32(), salt: reader.raw(KeyslotKDF.saltByteCount))
        let epoch = try reader.u32()
        let revision = try reader.u64()
        let bundleCount = try reader.u8()
        let flags = try reader.u8()
        guard flags & ~reencryptingFlag == 0 else { throw FormatError.invalidField("keyslot flags", "has unknown bits") }
        try reader.reserved(2)
        let header = KeyslotHeader(kdf: kdf, epoch: epoch, revision: revision, bundleCount: bundleCount,
                                   reencrypting: flags & reencryptingFlag != 0)
        guard header.bundleCount == 1 || header.bundleCount == 2 else {
            throw FormatError.invalidField("keyslot bundle count", "must be 1 or 2")
        }
        return header
    }

    /// Bytes of the whole keyslot this header starts.
    public var keyslotLength: Int { Self.byteCount + Int(bundleCount) * Keyslot.wrappedBundleByteCount }

    /// True when `self` may replace `stored` on a node: a higher revision (every change to a keyslot takes the next
    /// one, so two clients that change the same slot at once cannot both win), and never an older epoch.
    public func supersedes(_ stored: KeyslotHeader) -> Bool {
        revision > stored.revision && epoch >= stored.epoch
    }
}

/// Why a keyslot could not be unlocked.
public enum KeyslotError: Error, Equatable, Sendable, CustomStringConvertible {
    /// The password (or passphrase) does not open the key bundle.
    case wrongPassword
    /// The slot's work factor is below `KeyslotKDF.minimumIterations`.
    case weakKDF(iterations: UInt32)

    public var description: String {
        switch self {
        case .wrongPassword: return "wrong password"
        case let .weakKDF(iterations): return "keyslot KDF has only \(iterations) iterations; refusing a downgraded keyslot"
        }
    }
}

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
        guard bundles.count == 1 || bundles.count == 2 else {
            throw FormatError.invalidField("keyslot bundles", "must be one or two")
        }
        let header = KeyslotHeader(kdf: kdf, epoch: bundles[0].epoch, revision: revision, bundleCount: UInt8(bundles.count),
                                   reencrypting: reencrypting && bundles.count == 2)
        let headerBytes = header.encoded()
        var bytes = headerBytes
        for bundle in bundles {
            var plain = [UInt8]()
            plain.reserveCapacity(2 * SymmetricKey.byteCount)
            bundle.masterKey.withUnsafeBytes { plain.append(contentsOf: $0) }
            bundle.nameKey.withUnsafeBytes { plain.append(contentsOf: $0) }
            defer { secureWipe(&plain) }
            let aad = try bundleAAD(headerBytes: headerBytes, user: user, epoch: bundle.epoch)
            let box = try plain.withUnsafeBytes { p in try aad.withUnsafeBytes { try AESGCM.sealBox(p, key: kek, aad: $0) } }
            var writer = BinaryWriter()
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
            var reader = BinaryReader(Array(bytes[start..<(start + Self.wrappedBundleByteCount)]), context: "keyslot bundle")
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
        var writer = BinaryWriter()
        writer.raw(headerBytes)
        writer.u8(UInt8(userBytes.count))
        writer.raw(userBytes)
        writer.u32(epoch)
        return writer.bytes
    }
}
