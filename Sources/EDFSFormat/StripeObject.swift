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
        var writer = BinaryWriter(capacity: Self.byteCount)
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
        guard bytes.count >= byteCount else { throw FormatError.truncated("stripe object header") }
        var reader = BinaryReader(Array(bytes[0..<byteCount]), context: "stripe object header")
        guard try reader.raw(4) == magic else { throw FormatError.badMagic("stripe object") }
        let version = try reader.u8()
        guard version == formatVersion else { throw FormatError.unsupportedVersion("stripe object", version) }
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

/// Why a stripe could not be sealed or opened.
public enum StripeError: Error, Equatable, Sendable, CustomStringConvertible {
    /// A batch broke the segment rules: not whole segments before the end, or past the stripe's length.
    case badBatch(String)
    /// The object's header is not the one the manifest expects (another file, stripe or length).
    case headerMismatch
    /// A segment failed authentication: the object was changed, truncated, reordered or belongs elsewhere.
    case segmentAuthenticationFailed(segment: UInt64)
    /// The object ended before its last segment.
    case truncated(expected: UInt64, received: UInt64)
    /// The object has bytes after its final segment.
    case trailingBytes

    public var description: String {
        switch self {
        case let .badBatch(why): return "bad segment batch: \(why)"
        case .headerMismatch: return "stripe object header does not match the manifest"
        case let .segmentAuthenticationFailed(segment): return "segment \(segment) failed authentication"
        case let .truncated(expected, received): return "stripe object truncated: \(received) of \(expected) bytes"
        case .trailingBytes: return "stripe object has bytes after its final segment"
        }
    }
}

/// Seals one stripe batch by batch: plaintext goes in, sealed segments come out; nothing holds the whole stripe.
///
/// Every batch but the last must be a whole number of segments; the batch that reaches `plaintextLength`
/// is sealed with the final flag on its last segment. An empty stripe is one call with an empty batch.
public final class StripeSealer {
    public let header: StripeHeader
    public let headerBytes: [UInt8]
    private let cipher: ParallelSegmentCipher
    private var consumed: UInt64 = 0
    private var nextSegment: UInt64 = 0
    public private(set) var isComplete = false

    public init(header: StripeHeader, dataKey: SymmetricKey, workers: Int = ParallelSegmentCipher.defaultWorkers) throws {
        self.header = header
        headerBytes = header.encoded()
        cipher = try ParallelSegmentCipher(key: dataKey, scheme: header.segmentScheme(), direction: .seal, workers: workers)
    }

    /// Sealed size of a batch of `plaintextCount` bytes.
    public func sealedLength(ofBatch plaintextCount: Int) -> Int {
        cipher.scheme.sealedBatchLength(plaintextLength: plaintextCount)
    }

    /// Seals `plaintext` into `output`, which must be exactly `sealedLength(ofBatch: plaintext.count)` bytes.
    public func seal(_ plaintext: UnsafeRawBufferPointer, into output: UnsafeMutableRawBufferPointer) throws {
        guard !isComplete else { throw StripeError.badBatch("the stripe is already complete") }
        let remaining = header.plaintextLength - consumed
        guard UInt64(plaintext.count) <= remaining else { throw StripeError.badBatch("batch runs past the stripe length") }
        let endsStream = UInt64(plaintext.count) == remaining
        if !endsStream && (plaintext.isEmpty || plaintext.count % Int(header.segmentSize) != 0) {
            throw StripeError.badBatch("a batch before the end must be a whole number of segments")
        }
        try cipher.process(SegmentBatch(firstSegmentIndex: nextSegment, endsStream: endsStream,
                                        input: plaintext, output: output))
        consumed += UInt64(plaintext.count)
        nextSegment += plaintext.isEmpty ? 1 : UInt64((plaintext.count + Int(header.segmentSize) - 1) / Int(header.segmentSize))
        isComplete = endsStream
    }
}

/// Opens one stripe object batch by batch against the header the manifest expects.
///
/// Feed the object's first `StripeHeader.byteCount` bytes to `verifyHeader`, then its sealed segments in
/// batches of whole segments (the last may be short); `finish()` confirms nothing was cut off.
public final class StripeOpener {
    public let header: StripeHeader
    private let expectedHeaderBytes: [UInt8]
    private let cipher: ParallelSegmentCipher
    private let sealedTotal: UInt64
    private var sealedConsumed: UInt64 = 0
    private var nextSegment: UInt64 = 0

    public init(expected header: StripeHeader, dataKey: SymmetricKey,
                workers: Int = ParallelSegmentCipher.defaultWorkers) throws {
        self.header = header
        expectedHeaderBytes = header.encoded()
        cipher = try ParallelSegmentCipher(key: dataKey, scheme: header.segmentScheme(), direction: .open, workers: workers)
        sealedTotal = header.objectLength - UInt64(StripeHeader.byteCount)
    }

    /// Checks the object's stored header against the expected one (constant time is not needed: it is public).
    public func verifyHeader(_ bytes: some Collection<UInt8>) throws {
        guard bytes.count == StripeHeader.byteCount, Array(bytes) == expectedHeaderBytes else {
            throw StripeError.headerMismatch
        }
    }

    /// Sealed bytes still expected after the header.
    public var sealedBytesRemaining: UInt64 { sealedTotal - sealedConsumed }

    /// Plaintext size of a sealed batch, or nil if it is not a valid batch here.
    public func plaintextLength(ofSealedBatch sealedCount: Int) -> Int? {
        cipher.scheme.plaintextBatchLength(sealedLength: sealedCount)
    }

    /// Opens `sealed` (whole segments; only the batch that ends the object may end short) into `output`.
    public func open(_ sealed: UnsafeRawBufferPointer, into output: UnsafeMutableRawBufferPointer) throws {
        guard UInt64(sealed.count) <= sealedBytesRemaining else { throw StripeError.trailingBytes }
        let endsStream = UInt64(sealed.count) == sealedBytesRemaining
        let sealedSegment = Int(header.segmentSize) + AESGCM.tagByteCount
        if !endsStream && (sealed.isEmpty || sealed.count % sealedSegment != 0) {
            throw StripeError.badBatch("a batch before the end must be a whole number of segments")
        }
        do {
            try cipher.process(SegmentBatch(firstSegmentIndex: nextSegment, endsStream: endsStream,
                                            input: sealed, output: output))
        } catch {
            // Segments of the batch that did open must not be used either: wipe the whole output.
            output.initializeMemory(as: UInt8.self, repeating: 0)
            if let segmentError = error as? SegmentCipherError, segmentError.isAuthenticationFailure {
                throw StripeError.segmentAuthenticationFailed(segment: segmentError.segmentIndex)
            }
            throw error
        }
        sealedConsumed += UInt64(sealed.count)
        nextSegment += UInt64((sealed.count + sealedSegment - 1) / sealedSegment)
    }

    /// Throws unless the whole object was opened.
    public func finish() throws {
        guard sealedConsumed == sealedTotal else {
            throw StripeError.truncated(expected: header.objectLength,
                                        received: UInt64(StripeHeader.byteCount) + sealedConsumed)
        }
    }
}
