import EDFSCrypto
import EDFSFormat

/// One stripe's opener and its plaintext batch buffer (from the command's `BatchBufferPool`, sized to the stripe when
/// it is smaller than a batch, given back zeroed when the work ends).
///
/// Received bytes are opened where they arrive (`absorb`: GCM straight from the received frame into the batch's
/// plaintext, each segment's tag checked as its last byte comes; docs/PERFORMANCE.md, "Opening segments where they
/// arrive"); a batch is handed on (`deliverBatch`) only when it is whole, i.e. when every segment in it verified.
///
/// `@unchecked Sendable` is sound: one stripe's fetch owns it and uses it from one task at a time — `absorb` runs
/// between awaits of that task, and `deliverBatch` runs in a blocking job the task awaits before touching it again.
final class StripeOpenWork: @unchecked Sendable {
    let opener: StripeOpener
    private let sealedCapacity: Int
    private let sealedTotal: UInt64
    private let pool: BatchBufferPool
    private let buffers: BatchBuffers
    private var plaintext: UnsafeMutableRawBufferPointer { buffers.plaintext }
    private var headerBytes: [UInt8] = []
    /// Sealed bytes of the current batch taken, and the plaintext written for them (the last segment's not yet
    /// authenticated while it is part-way).
    private var filled = 0
    private var produced = 0
    private(set) var headerVerified = false
    /// Sealed bytes after the header that were opened and written.
    private(set) var sealedDone: UInt64 = 0
    /// Plaintext bytes of this stripe written so far.
    private(set) var plaintextDone: UInt64 = 0

    init(header: StripeHeader, dataKey: SymmetricKey, batchSegments: Int,
         pool: BatchBufferPool = BatchBufferPool(limit: 0)) throws {
        // Segments are opened one after another as they arrive, on the stripe's task (the batch cipher is not used).
        opener = try StripeOpener(expected: header, dataKey: dataKey)
        sealedTotal = opener.sealedBytesRemaining
        // A whole batch, or the whole stripe when it is smaller (a batch either holds whole segments or ends it).
        sealedCapacity = Int(min(UInt64(batchSegments * (Int(header.segmentSize) + AESGCM.tagByteCount)), sealedTotal))
        self.pool = pool
        // Room for a whole sealed batch (a little more than its plaintext, whose tags are not written): a bound that
        // needs no arithmetic on where the batch ends.
        buffers = pool.take(plaintext: sealedCapacity)
    }

    deinit {
        pool.give(buffers)  // zeroes the plaintext
    }

    /// Sealed bytes the current batch needs before it can be handed on.
    private var batchTarget: Int { Int(min(UInt64(sealedCapacity), sealedTotal - sealedDone)) }
    var batchIsFull: Bool { headerVerified && filled > 0 && filled == batchTarget && opener.arrivingAtSegmentBoundary }
    var hasPartialBatch: Bool { filled > 0 }

    /// Forgets bytes of a batch that was not handed on (the replica failed mid-batch): the next replica resumes at
    /// the batch's first segment.
    func discardPartialBatch() throws {
        // What was opened of the abandoned batch, its last segment unverified, is not kept for the next replica.
        if produced > 0 { buffers.scrub() }
        filled = 0
        produced = 0
        if headerVerified { try opener.rewindArriving(toSealedOffset: sealedDone) } else { headerBytes.removeAll() }
    }

    /// Takes bytes from `input` up to the end of the header or the current batch, opening them into the batch's
    /// plaintext; returns how many it took. A segment that fails authentication throws, its plaintext wiped.
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
        guard let out = plaintext.baseAddress, produced + take <= plaintext.count else {
            throw StripeError.badBatch("no room for \(take) bytes in the batch")
        }
        // Zeroed once when the buffer goes back to the pool, not after every batch (the next batch overwrites it).
        buffers.dirty = max(buffers.dirty, produced + take)
        do {
            produced += try opener.openArriving(UnsafeRawBufferPointer(rebasing: input[0..<take]), into: out + produced)
        } catch {
            // Nothing of this batch may be used: wipe what was opened of it (the next replica opens it again).
            buffers.scrub()
            filled = 0
            produced = 0
            throw error
        }
        filled += take
        return take
    }

    /// Hands the whole, verified batch to `consume` and returns its plaintext size.
    func deliverBatch(_ consume: (UnsafeRawBufferPointer, UInt64) throws -> Void) throws -> Int {
        guard batchIsFull else {
            throw StripeError.truncated(expected: opener.header.objectLength,
                                        received: UInt64(StripeHeader.byteCount) + sealedDone + UInt64(filled))
        }
        let count = produced
        do {
            try consume(UnsafeRawBufferPointer(rebasing: plaintext[0..<count]), plaintextDone)
        } catch let error as ClientError { throw error } catch {
            throw ClientError.failed(String(describing: error))
        }
        sealedDone += UInt64(filled)
        plaintextDone += UInt64(count)
        filled = 0
        produced = 0
        return count
    }
}
