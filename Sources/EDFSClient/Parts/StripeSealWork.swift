import EDFSCrypto
import EDFSFormat
import NIOCore

/// One stripe's sealer and plaintext buffer.
///
/// `@unchecked Sendable` is sound: the put task of one stripe owns it and hands it to exactly one blocking job at a
/// time, awaiting that job before the next (`putStripe` is sequential per stripe), so the sealer and buffer are never
/// used by two threads at once; the buffer is freed in `deinit`, after the last job.
final class StripeSealWork: @unchecked Sendable {
    let sealer: StripeSealer
    let batchBytes: Int
    private let plaintext: UnsafeMutableRawBufferPointer
    /// Bytes of `plaintext` ever filled: wiped once, when the stripe is done.
    private var filled = 0
    private let allocator = ByteBufferAllocator()

    /// A batch is `TransferTuning`'s whole segments, or the whole stripe when it is shorter: a 4 KiB stripe allocates
    /// and touches 4 KiB, not a full batch.
    init(header: StripeHeader, dataKey: SymmetricKey) throws {
        let segmentSize = Int(header.segmentSize)
        // No more cipher contexts (one key schedule each) than the stripe has segments.
        let segments = header.plaintextLength / UInt64(max(1, segmentSize)) + 1
        sealer = try StripeSealer(header: header, dataKey: dataKey,
                                  workers: Int(min(UInt64(ParallelSegmentCipher.defaultWorkers), segments)))
        let batch = TransferTuning.segmentsPerBatch(segmentSize: segmentSize) * segmentSize
        batchBytes = max(1, Int(clamping: min(UInt64(batch), header.plaintextLength)))
        plaintext = .allocate(byteCount: batchBytes, alignment: 64)
    }

    /// Reads `count` bytes at `offset` and seals them into a new buffer ready to send. The plaintext stays in the
    /// buffer until the next batch overwrites it or the stripe ends (`deinit` wipes it): zeroing it after every batch
    /// was a full extra pass over every byte of a put (2.5 % of a large put's client CPU).
    func readAndSeal(source: LocalSource, offset: UInt64, count: Int) throws -> ByteBuffer {
        let input = UnsafeMutableRawBufferPointer(rebasing: plaintext[0..<count])
        filled = max(filled, count)
        try source.read(into: input, at: offset)
        return try seal(UnsafeRawBufferPointer(input))
    }

    /// Seals the next batch of plaintext into a new buffer ready to send.
    func seal(_ input: UnsafeRawBufferPointer) throws -> ByteBuffer {
        let sealedCount = sealer.sealedLength(ofBatch: input.count)
        var buffer = allocator.buffer(capacity: sealedCount)
        try buffer.writeWithUnsafeMutableBytes(minimumWritableBytes: sealedCount) { out in
            try sealer.seal(input, into: UnsafeMutableRawBufferPointer(rebasing: out[0..<sealedCount]))
            return sealedCount
        }
        return buffer
    }

    deinit {
        secureWipe(UnsafeMutableRawBufferPointer(rebasing: plaintext[0..<filled]))  // plaintext does not outlive the stripe
        plaintext.deallocate()
    }
}
