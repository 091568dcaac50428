import EDFSCrypto
import EDFSFormat

/// One stripe's opener, its batch of sealed bytes and the plaintext buffer (a pair from the command's
/// `BatchBufferPool`, sized to the stripe when it is smaller than a batch, given back zeroed when the work ends).
///
/// `@unchecked Sendable` is sound: one stripe's fetch owns it and uses it from one task at a time — `absorb` runs
/// between awaits of that task, and `openBatch` runs in a blocking job the task awaits before touching it again.
final class StripeOpenWork: @unchecked Sendable {
    let opener: StripeOpener
    private let sealedCapacity: Int
    private let pool: BatchBufferPool
    private let buffers: BatchBuffers
    private var sealed: UnsafeMutableRawBufferPointer { buffers.sealed }
    private var plaintext: UnsafeMutableRawBufferPointer { buffers.plaintext }
    private var headerBytes: [UInt8] = []
    private var filled = 0
    private(set) var headerVerified = false
    /// Sealed bytes after the header that were opened and written.
    private(set) var sealedDone: UInt64 = 0
    /// Plaintext bytes of this stripe written so far.
    private(set) var plaintextDone: UInt64 = 0

    init(header: StripeHeader, dataKey: SymmetricKey, batchSegments: Int,
         pool: BatchBufferPool = BatchBufferPool(limit: 0)) throws {
        // No more workers (each an EVP context with its own key schedule) than the stripe has segments: a small
        // file's stripe is one segment, opened on one thread.
        let segmentSize = UInt64(max(1, header.segmentSize))
        let segments = max(1, (header.plaintextLength + segmentSize - 1) / segmentSize)
        opener = try StripeOpener(expected: header, dataKey: dataKey,
                                  workers: Int(min(UInt64(ParallelSegmentCipher.defaultWorkers), segments)))
        // A whole batch, or the whole stripe when it is smaller (a batch either holds whole segments or ends it).
        sealedCapacity = Int(min(UInt64(batchSegments * (Int(header.segmentSize) + AESGCM.tagByteCount)),
                                 opener.sealedBytesRemaining))
        let plaintextCapacity = opener.plaintextLength(ofSealedBatch: sealedCapacity) ?? 0
        self.pool = pool
        buffers = pool.take(sealed: sealedCapacity, plaintext: plaintextCapacity + 1)
    }

    deinit {
        pool.give(buffers)  // zeroes the plaintext
    }

    /// Sealed bytes the current batch needs before it can be opened.
    private var batchTarget: Int { Int(min(UInt64(sealedCapacity), opener.sealedBytesRemaining)) }
    var batchIsFull: Bool { headerVerified && filled > 0 && filled == batchTarget }
    var hasPartialBatch: Bool { filled > 0 }

    /// Forgets bytes of a batch that was not opened (the replica failed mid-batch).
    func discardPartialBatch() {
        filled = 0
        if !headerVerified { headerBytes.removeAll() }
    }

    /// Takes bytes from `input` up to the end of the header or the current batch; returns how many it took.
    func absorb(_ input: UnsafeRawBufferPointer) throws -> Int {
        if !headerVerified {
            let take = min(StripeHeader.byteCount - headerBytes.count, input.count)
            headerBytes.append(contentsOf: input[0..<take])
            if headerBytes.count == StripeHeader.byteCount {
                try opener.verifyHeader(headerBytes)
                headerVerified = true
            }
            return take
        }
        let room = batchTarget - filled
        guard room > 0 else { throw StripeError.trailingBytes }
        let take = min(room, input.count)
        UnsafeMutableRawBufferPointer(rebasing: sealed[filled..<(filled + take)])
            .copyMemory(from: UnsafeRawBufferPointer(rebasing: input[0..<take]))
        filled += take
        return take
    }

    /// Opens the buffered batch (in parallel), hands its plaintext to `consume` and returns its size.
    func openBatch(_ consume: (UnsafeRawBufferPointer, UInt64) throws -> Void) throws -> Int {
        guard let count = opener.plaintextLength(ofSealedBatch: filled), count < plaintext.count else {
            throw StripeError.truncated(expected: opener.header.objectLength, received: UInt64(filled))
        }
        let out = UnsafeMutableRawBufferPointer(rebasing: plaintext[0..<count])
        // Zeroed once when the pair goes back to the pool, not after every batch (the next batch overwrites it).
        buffers.dirty = max(buffers.dirty, count)
        try opener.open(UnsafeRawBufferPointer(rebasing: sealed[0..<filled]), into: out)
        do { try consume(UnsafeRawBufferPointer(out), plaintextDone) } catch let error as ClientError { throw error } catch {
            throw ClientError.failed(String(describing: error))
        }
        sealedDone += UInt64(filled)
        plaintextDone += UInt64(count)
        filled = 0
        return count
    }
}
