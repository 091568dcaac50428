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
    private let allocator = ByteBufferAllocator()

    init(header: StripeHeader, dataKey: SymmetricKey, batchBytes: Int) throws {
        sealer = try StripeSealer(header: header, dataKey: dataKey)
        self.batchBytes = batchBytes
        plaintext = .allocate(byteCount: max(batchBytes, 1), alignment: 64)
    }

    /// Reads `count` bytes at `offset` and seals them into a new buffer ready to send.
    func readAndSeal(source: LocalSource, offset: UInt64, count: Int) throws -> ByteBuffer {
        let input = UnsafeMutableRawBufferPointer(rebasing: plaintext[0..<count])
        defer { input.initializeMemory(as: UInt8.self, repeating: 0) }  // plaintext does not linger in the buffer
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

    deinit { plaintext.deallocate() }
}
