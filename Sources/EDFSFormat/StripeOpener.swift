import EDFSCrypto

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
