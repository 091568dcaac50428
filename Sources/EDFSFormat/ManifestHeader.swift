import EDFSCrypto

/// The cleartext header of a manifest (docs/FORMAT.md §3): everything a node may know, authenticated as the
/// AAD of the encrypted body. Nodes read it to refuse stale versions and to tell live objects from orphans.
public struct ManifestHeader: Equatable, Sendable {
    public static let magic: [UInt8] = Array("EDSM".utf8)
    public static let formatVersion: UInt8 = 1
    public static let byteCount = 56
    /// Largest sealed body accepted (a name of 4 KiB and 4096 stripes fit with room to spare).
    public static let maximumBodyLength: UInt32 = 256 * 1024

    public var manifestID: ManifestID
    /// Grows with every put of the same path; a node refuses a manifest not newer than the one it holds.
    public var version: UInt64
    public var fileID: FileID
    /// The key epoch whose master key sealed the body.
    public var keyEpoch: UInt32
    /// Bytes of the sealed body that follows the header (nonce ‖ ciphertext ‖ tag).
    public var sealedBodyLength: UInt32

    public init(manifestID: ManifestID, version: UInt64, fileID: FileID, keyEpoch: UInt32, sealedBodyLength: UInt32) {
        self.manifestID = manifestID
        self.version = version
        self.fileID = fileID
        self.keyEpoch = keyEpoch
        self.sealedBodyLength = sealedBodyLength
    }

    public func encoded() -> [UInt8] {
        var writer = BigEndianWriter<FormatError>(capacity: Self.byteCount)
        writer.raw(Self.magic)
        writer.u8(Self.formatVersion)
        writer.zeros(3)
        writer.raw(manifestID.bytes)
        writer.u64(version)
        writer.raw(fileID.bytes)
        writer.u32(keyEpoch)
        writer.u32(sealedBodyLength)
        return writer.bytes
    }

    /// Decodes the header from the first 56 bytes of `bytes` (the sealed body may follow).
    public static func decode(prefixOf bytes: [UInt8]) throws -> ManifestHeader {
        var reader = try BigEndianReader.formatHeader(prefixOf: bytes, byteCount: byteCount, magic: magic,
                                                      version: formatVersion, structure: "manifest")
        try reader.reserved(3)
        let header = try ManifestHeader(manifestID: ManifestID(bytes: reader.raw(ManifestID.byteCount)),
                                        version: reader.u64(), fileID: FileID(bytes: reader.raw(FileID.byteCount)),
                                        keyEpoch: reader.u32(), sealedBodyLength: reader.u32())
        guard header.sealedBodyLength >= UInt32(AESGCM.nonceByteCount + AESGCM.tagByteCount),
              header.sealedBodyLength <= maximumBodyLength else {
            throw FormatError.invalidField("manifest body length", "is outside the allowed range")
        }
        return header
    }

    /// Total bytes of the manifest this header starts.
    public var manifestLength: Int { Self.byteCount + Int(sealedBodyLength) }
}
