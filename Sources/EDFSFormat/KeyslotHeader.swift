import EDFSCrypto

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
        var writer = BigEndianWriter<FormatError>(capacity: Self.byteCount)
        writer.raw(Self.magic)
        writer.u8(Self.formatVersion)
        writer.u8(kdf.kind.rawValue)
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
        var reader = try BigEndianReader.formatHeader(prefixOf: bytes, byteCount: byteCount, magic: magic,
                                                      version: formatVersion, structure: "keyslot")
        let kdfID = try reader.u8()
        guard let kind = KeyslotKDF.Kind(rawValue: kdfID) else {
            throw FormatError.invalidField("keyslot KDF", "is unknown (\(kdfID))")
        }
        try reader.reserved(2)
        let kdf = try KeyslotKDF(kind: kind, iterations: reader.u32(), salt: reader.raw(KeyslotKDF.saltByteCount))
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
