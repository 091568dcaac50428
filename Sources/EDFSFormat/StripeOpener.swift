import EDFSCrypto

/// Opens one stripe object against the header the manifest expects.
///
/// Feed the object's first `StripeHeader.byteCount` bytes to `verifyHeader`, then its sealed segments either in
/// batches of whole segments (the last may be short) to `open`, or as they arrive, in pieces of any size, to
/// `openArriving` (one way per opener); `finish()` confirms nothing was cut off.
public final class StripeOpener {
    public let header: StripeHeader
    private let expectedHeaderBytes: [UInt8]
    private let dataKey: SymmetricKey
    private let scheme: SegmentScheme
    private let workers: Int
    /// The batch cipher, made by the first `open` (a get opens as bytes arrive and never needs its contexts).
    private var cipher: ParallelSegmentCipher?
    private let arriving: SegmentStreamOpener
    private let sealedTotal: UInt64
    private var sealedConsumed: UInt64 = 0
    private var nextSegment: UInt64 = 0

    public init(expected header: StripeHeader, dataKey: SymmetricKey,
                workers: Int = ParallelSegmentCipher.defaultWorkers) throws {
        self.header = header
        expectedHeaderBytes = header.encoded()
        let scheme = try header.segmentScheme()
        self.dataKey = dataKey
        self.scheme = scheme
        self.workers = workers
        sealedTotal = header.objectLength - UInt64(StripeHeader.byteCount)
        arriving = try SegmentStreamOpener(key: dataKey, scheme: scheme, sealedTotal: sealedTotal)
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
        scheme.plaintextBatchLength(sealedLength: sealedCount)
    }

    /// Opens `sealed` (whole segments; only the batch that ends the object may end short) into `output`.
    public func open(_ sealed: UnsafeRawBufferPointer, into output: UnsafeMutableRawBufferPointer) throws {
        guard UInt64(sealed.count) <= sealedBytesRemaining else { throw StripeError.trailingBytes }
        let endsStream = UInt64(sealed.count) == sealedBytesRemaining
        let sealedSegment = Int(header.segmentSize) + AESGCM.tagByteCount
        if !endsStream && (sealed.isEmpty || sealed.count % sealedSegment != 0) {
            throw StripeError.badBatch("a batch before the end must be a whole number of segments")
        }
        let cipher = try self.cipher ?? ParallelSegmentCipher(key: dataKey, scheme: scheme, direction: .open,
                                                              workers: workers)
        self.cipher = cipher
        do {
            try cipher.process(SegmentBatch(firstSegmentIndex: nextSegment, endsStream: endsStream,
                                            input: sealed, output: output))
        } catch {
            // Segments of the batch that did open must not be used either: wipe the whole output.
            secureWipe(output)
            throw Self.stripeError(error)
        }
        sealedConsumed += UInt64(sealed.count)
        nextSegment += UInt64((sealed.count + sealedSegment - 1) / sealedSegment)
    }

    /// Opens sealed bytes as they arrive, instead of `open`: takes all of `sealed` (the next bytes of the object after
    /// the header, in any split) and writes their plaintext from `output` on (room for `sealed.count` bytes); returns
    /// the plaintext bytes written. A segment's plaintext is authentic only once its tag was taken
    /// (`arrivingAtSegmentBoundary` after the piece that ends it); on a throw the caller wipes what it passed.
    public func openArriving(_ sealed: UnsafeRawBufferPointer, into output: UnsafeMutableRawPointer) throws -> Int {
        guard UInt64(sealed.count) <= sealedTotal - arriving.sealedConsumed else { throw StripeError.trailingBytes }
        do {
            return try arriving.feed(sealed, into: output).produced
        } catch {
            throw Self.stripeError(error)
        }
    }

    /// Whether every byte given to `openArriving` belongs to a segment whose tag verified.
    public var arrivingAtSegmentBoundary: Bool { arriving.atSegmentBoundary }

    /// Forgets what `openArriving` took after `sealedOffset` (a segment boundary it reached) and continues from there.
    public func rewindArriving(toSealedOffset sealedOffset: UInt64) throws { try arriving.rewind(toSealedOffset: sealedOffset) }

    /// The stripe error for a failure to open: a segment that failed authentication is named.
    private static func stripeError(_ error: any Error) -> any Error {
        if let segmentError = error as? SegmentCipherError, segmentError.isAuthenticationFailure {
            return StripeError.segmentAuthenticationFailed(segment: segmentError.segmentIndex)
        }
        return error
    }

    /// Throws unless the whole object was opened (by `open`, or by `openArriving` up to its last tag).
    public func finish() throws {
        let arrived = arriving.sealedConsumed == sealedTotal && arriving.atSegmentBoundary
        guard sealedConsumed == sealedTotal || arrived else {
            throw StripeError.truncated(expected: header.objectLength,
                                        received: UInt64(StripeHeader.byteCount) + max(sealedConsumed, arriving.sealedConsumed))
        }
    }
}
