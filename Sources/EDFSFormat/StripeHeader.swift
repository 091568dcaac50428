import EDFSCrypto

/// The fixed header at the start of every stripe object (docs/FORMAT.md §2). Cleartext, and authenticated
/// as the AAD prefix of every segment, so no field can change without every segment failing to open.
public struct StripeHeader: Equatable, Sendable {
    public static let magic: [UInt8] = Array("EDSO".utf8)
    public static let formatVersion: UInt8 = 1
    public static let byteCount = 44

    public var fileID: FileID
    public var stripeIndex: UInt32
    public var stripeCount: UInt32
    public var segmentSize: UInt32
    /// Plaintext bytes in this stripe.
    public var plaintextLength: UInt64

    public init(fileID: FileID, stripeIndex: UInt32, stripeCount: UInt32, segmentSize: UInt32,
                plaintextLength: UInt64) throws {
        self.fileID = fileID
        self.stripeIndex = stripeIndex
        self.stripeCount = stripeCount
        self.segmentSize = segmentSize
        self.plaintextLength = plaintextLength
        try validate()
    }

    /// The 44 header bytes.
    public func encoded() -> [UInt8] {
        var writer = BigEndianWriter<FormatError>(capacity: Self.byteCount)
        writer.raw(Self.magic)
        writer.u8(Self.formatVersion)
        writer.zeros(3)
        writer.raw(fileID.bytes)
        writer.u32(stripeIndex)
        writer.u32(stripeCount)
        writer.u32(segmentSize)
        writer.u64(plaintextLength)
        return writer.bytes
    }

    /// Decodes the header from the first 44 bytes of `bytes` (more may follow).
    public static func decode(prefixOf bytes: [UInt8]) throws -> StripeHeader {
        var reader = try BigEndianReader.formatHeader(prefixOf: bytes, byteCount: byteCount, magic: magic,
                                                      version: formatVersion, structure: "stripe object")
        try reader.reserved(3)
        return try StripeHeader(fileID: FileID(bytes: reader.raw(FileID.byteCount)), stripeIndex: reader.u32(),
                                stripeCount: reader.u32(), segmentSize: reader.u32(), plaintextLength: reader.u64())
    }

    /// Nonce and AAD rule for this stripe's segments: nonce prefix = stripe index, AAD prefix = this header.
    public func segmentScheme() throws -> SegmentScheme {
        try SegmentScheme(segmentSize: Int(segmentSize), noncePrefix: stripeIndex, aadPrefix: encoded())
    }

    /// Bytes of the whole stored object: header plus sealed segments.
    public var objectLength: UInt64 {
        let segments = plaintextLength == 0 ? 1 : (plaintextLength + UInt64(segmentSize) - 1) / UInt64(segmentSize)
        return UInt64(Self.byteCount) + plaintextLength + segments * UInt64(AESGCM.tagByteCount)
    }

    /// The name nodes store this stripe under: `<file id hex>.<stripe index>`.
    public var objectName: String { StripeHeader.objectName(fileID: fileID, stripeIndex: stripeIndex) }

    public static func objectName(fileID: FileID, stripeIndex: UInt32) -> String { "\(fileID.hex).\(stripeIndex)" }

    private func validate() throws {
        guard stripeCount >= 1, stripeCount <= Self.maximumStripeCount else {
            throw FormatError.invalidField("stripe count", "must be 1…\(Self.maximumStripeCount)")
        }
        guard stripeIndex < stripeCount else { throw FormatError.invalidField("stripe index", "must be below the stripe count") }
        guard segmentSize >= 1, Int(segmentSize) <= SegmentScheme.maximumSegmentSize else {
            throw FormatError.invalidField("segment size", "must be 1…\(SegmentScheme.maximumSegmentSize)")
        }
        guard plaintextLength <= Self.maximumPlaintextLength else {
            throw FormatError.invalidField("stripe length", "exceeds \(Self.maximumPlaintextLength) bytes")
        }
    }

    /// At most 4096 stripes (nodes) per file.
    public static let maximumStripeCount: UInt32 = 4096
    /// 2^50 bytes (1 PiB) per stripe: far above any real disk, far below UInt64 overflow in length arithmetic.
    public static let maximumPlaintextLength: UInt64 = 1 << 50
}
