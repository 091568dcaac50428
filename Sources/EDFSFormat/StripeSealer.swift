import EDFSCrypto

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
