import EDFSCrypto
import EDFSFormat

/// One stripe's opener, its batch of sealed bytes and the plaintext buffer.
///
/// `@unchecked Sendable` is sound: one stripe's fetch owns it and uses it from one task at a time — `absorb` runs
/// between awaits of that task, and `openBatch` runs in a blocking job the task awaits before touching it again.
final class StripeOpenWork: @unchecked Sendable {
    let opener: StripeOpener
    private let sealedCapacity: Int
    private let sealed: UnsafeMutableRawBufferPointer
    private let plaintext: UnsafeMutableRawBufferPointer
    private var headerBytes: [UInt8] = []
    private var filled = 0
    private(set) var headerVerified = false
    /// Sealed bytes after the header that were opened and written.
    private(set) var sealedDone: UInt64 = 0
    /// Plaintext bytes of this stripe written so far.
    private(set) var plaintextDone: UInt64 = 0

    init(header: StripeHeader, dataKey: SymmetricKey, batchSegments: Int) throws {
        opener = try StripeOpener(expected: header, dataKey: dataKey)
        sealedCapacity = batchSegments * (Int(header.segmentSize) + AESGCM.tagByteCount)
        sealed = .allocate(byteCount: sealedCapacity, alignment: 64)
        plaintext = .allocate(byteCount: batchSegments * Int(header.segmentSize) + 1, alignment: 64)
    }

    deinit {
        plaintext.initializeMemory(as: UInt8.self, repeating: 0)
        sealed.deallocate()
        plaintext.deallocate()
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
        guard let count = opener.plaintextLength(ofSealedBatch: filled) else {
            throw StripeError.truncated(expected: opener.header.objectLength, received: UInt64(filled))
        }
        let out = UnsafeMutableRawBufferPointer(rebasing: plaintext[0..<count])
        defer { out.initializeMemory(as: UInt8.self, repeating: 0) }
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
