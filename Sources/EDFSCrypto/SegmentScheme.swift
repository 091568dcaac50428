/// How a stream of segments is sealed under one key (a STREAM-style construction, Hoang–Reyhanitabar–
/// Rogaway–Vizár 2015): segment i of a stream gets
///
///     nonce = noncePrefix (4 bytes, big-endian) ‖ i (8 bytes, big-endian)
///     AAD   = aadPrefix ‖ i (8 bytes, big-endian) ‖ final (1 byte: 1 on the last segment, else 0)
///
/// and is stored as ciphertext ‖ 16-byte tag. Every segment is as long as `segmentSize` but the last, which
/// may be shorter (or empty, for an empty stream). So a segment cannot be reordered, moved to another
/// stream (another prefix), or dropped from the end without its open failing.
public struct SegmentScheme: Sendable {
    /// Largest segment accepted, so every length fits EVP's `Int32` with room to spare.
    public static let maximumSegmentSize = 64 << 20

    public let segmentSize: Int
    public let noncePrefix: UInt32
    public let aadPrefix: [UInt8]

    public init(segmentSize: Int, noncePrefix: UInt32, aadPrefix: [UInt8]) throws {
        guard segmentSize > 0, segmentSize <= Self.maximumSegmentSize else {
            throw CryptoError.invalidParameter("segment size \(segmentSize) is outside 1…\(Self.maximumSegmentSize)")
        }
        self.segmentSize = segmentSize
        self.noncePrefix = noncePrefix
        self.aadPrefix = aadPrefix
    }

    /// Sealed size of one segment of `plaintextLength` bytes.
    public static func sealedSegmentLength(_ plaintextLength: Int) -> Int { plaintextLength + AESGCM.tagByteCount }

    /// Number of segments in a stream of `plaintextLength` bytes: at least one, even when empty.
    public func segmentCount(plaintextLength: UInt64) -> UInt64 {
        plaintextLength == 0 ? 1 : (plaintextLength + UInt64(segmentSize) - 1) / UInt64(segmentSize)
    }

    /// Sealed size of a whole stream of `plaintextLength` bytes.
    public func sealedLength(plaintextLength: UInt64) -> UInt64 {
        plaintextLength + segmentCount(plaintextLength: plaintextLength) * UInt64(AESGCM.tagByteCount)
    }

    /// Sealed size of a batch of `plaintextLength` bytes (full segments, the last possibly short).
    public func sealedBatchLength(plaintextLength: Int) -> Int {
        let segments = plaintextLength == 0 ? 1 : (plaintextLength + segmentSize - 1) / segmentSize
        return plaintextLength + segments * AESGCM.tagByteCount
    }

    /// Plaintext size of a batch of `sealedLength` bytes, or nil if no batch seals to that size.
    public func plaintextBatchLength(sealedLength: Int) -> Int? {
        let sealedSegment = segmentSize + AESGCM.tagByteCount
        let full = sealedLength / sealedSegment
        let rest = sealedLength % sealedSegment
        if rest == 0 { return full == 0 ? nil : full * segmentSize }
        guard rest >= AESGCM.tagByteCount else { return nil }
        return full * segmentSize + rest - AESGCM.tagByteCount
    }

    /// Writes the nonce of segment `index` into `nonce` (12 bytes).
    @inline(__always)
    func writeNonce(index: UInt64, into nonce: UnsafeMutableRawBufferPointer) {
        nonce.storeBytes(of: noncePrefix.bigEndian, toByteOffset: 0, as: UInt32.self)
        nonce.storeBytes(of: index.bigEndian, toByteOffset: 4, as: UInt64.self)
    }

    /// Writes the per-segment AAD suffix (index ‖ final flag, 9 bytes) into `suffix`.
    @inline(__always)
    func writeAADSuffix(index: UInt64, isFinal: Bool, into suffix: UnsafeMutableRawBufferPointer) {
        suffix.storeBytes(of: index.bigEndian, toByteOffset: 0, as: UInt64.self)
        suffix.storeBytes(of: isFinal ? UInt8(1) : UInt8(0), toByteOffset: 8, as: UInt8.self)
    }
}

extension SegmentScheme {
    /// Checks a sealing batch and returns its segment count.
    func sealingSegmentCount(_ batch: SegmentBatch) throws -> Int {
        let length = batch.input.count
        if !batch.endsStream && (length == 0 || length % segmentSize != 0) {
            throw CryptoError.invalidParameter("a batch that does not end the stream must hold whole segments")
        }
        let count = length == 0 ? 1 : (length + segmentSize - 1) / segmentSize
        guard batch.output.count == length + count * AESGCM.tagByteCount else {
            throw CryptoError.invalidLength(what: "sealed batch buffer", expected: length + count * AESGCM.tagByteCount,
                                            actual: batch.output.count)
        }
        return count
    }

    /// Checks an opening batch and returns its segment count.
    func openingSegmentCount(_ batch: SegmentBatch) throws -> Int {
        let sealedSegment = segmentSize + AESGCM.tagByteCount
        let length = batch.input.count
        guard let plaintextLength = plaintextBatchLength(sealedLength: length) else {
            throw CryptoError.invalidParameter("sealed batch of \(length) bytes is not a whole number of segments")
        }
        if !batch.endsStream && length % sealedSegment != 0 {
            throw CryptoError.invalidParameter("a batch that does not end the stream must hold whole segments")
        }
        guard batch.output.count == plaintextLength else {
            throw CryptoError.invalidLength(what: "plaintext batch buffer", expected: plaintextLength,
                                            actual: batch.output.count)
        }
        return (length + sealedSegment - 1) / sealedSegment
    }

    /// The slot of segment `k` (0-based within the batch) when sealing (`sealing`) or opening.
    @inline(__always)
    func slot(_ k: Int, of batch: SegmentBatch, sealing: Bool) -> SegmentSlot {
        let plainStart = k * segmentSize
        let sealedStart = k * (segmentSize + AESGCM.tagByteCount)
        if sealing {
            let length = Swift.min(segmentSize, batch.input.count - plainStart)
            return SegmentSlot(inputOffset: plainStart, inputLength: length, outputOffset: sealedStart)
        } else {
            let length = Swift.min(segmentSize + AESGCM.tagByteCount, batch.input.count - sealedStart)
            return SegmentSlot(inputOffset: sealedStart, inputLength: length, outputOffset: plainStart)
        }
    }

    /// Seals (`sealing`) or opens segment `k` of `batch` with `context`.
    @inline(__always)
    func processSegment(_ k: Int, count: Int, of batch: SegmentBatch, context: AESGCMContext, sealing: Bool) throws {
        if sealing {
            try sealSegment(k, count: count, of: batch, context: context)
        } else {
            try openSegment(k, count: count, of: batch, context: context)
        }
    }

    /// Seals segment `k` of `batch` with `context`.
    @inline(__always)
    func sealSegment(_ k: Int, count: Int, of batch: SegmentBatch, context: AESGCMContext) throws {
        let s = slot(k, of: batch, sealing: true)
        try withSegmentParameters(k, count: count, of: batch) { nonce, prefix, suffix in
            guard let out = batch.output.baseAddress.map({ $0 + s.outputOffset }) else {
                throw CryptoError.invalidParameter("empty output buffer")
            }
            try context.seal(nonce: nonce, aad: prefix, aadSuffix: suffix,
                             plaintext: UnsafeRawBufferPointer(rebasing: batch.input[s.inputOffset..<(s.inputOffset + s.inputLength)]),
                             ciphertext: out, tag: out + s.inputLength)
        }
    }

    /// Opens segment `k` of `batch` with `context`.
    @inline(__always)
    func openSegment(_ k: Int, count: Int, of batch: SegmentBatch, context: AESGCMContext) throws {
        let s = slot(k, of: batch, sealing: false)
        let cipherLength = s.inputLength - AESGCM.tagByteCount
        try withSegmentParameters(k, count: count, of: batch) { nonce, prefix, suffix in
            let start = s.inputOffset
            try context.open(nonce: nonce, aad: prefix, aadSuffix: suffix,
                             ciphertext: UnsafeRawBufferPointer(rebasing: batch.input[start..<(start + cipherLength)]),
                             tag: UnsafeRawBufferPointer(rebasing: batch.input[(start + cipherLength)..<(start + s.inputLength)]),
                             plaintext: batch.output.baseAddress.map { $0 + s.outputOffset })
        }
    }

    /// Calls `body` with segment `k`'s nonce, the AAD prefix and its AAD suffix (index ‖ final flag), built on the
    /// stack: no allocation per segment.
    @inline(__always)
    private func withSegmentParameters(_ k: Int, count: Int, of batch: SegmentBatch,
                                       _ body: (UnsafeRawBufferPointer, UnsafeRawBufferPointer, UnsafeRawBufferPointer) throws -> Void)
        throws {
        try withParameters(index: batch.firstSegmentIndex + UInt64(k), isFinal: batch.endsStream && k == count - 1, body)
    }

    /// Calls `body` with the nonce, the AAD prefix and the AAD suffix of segment `index` of the stream.
    @inline(__always)
    func withParameters(index: UInt64, isFinal: Bool,
                        _ body: (UnsafeRawBufferPointer, UnsafeRawBufferPointer, UnsafeRawBufferPointer) throws -> Void)
        throws {
        var nonce = (UInt64(0), UInt32(0))
        var suffix = (UInt64(0), UInt8(0))
        try withUnsafeMutableBytes(of: &nonce) { nonceBuffer in
            let nonceBytes = UnsafeMutableRawBufferPointer(rebasing: nonceBuffer[0..<AESGCM.nonceByteCount])
            writeNonce(index: index, into: nonceBytes)
            try withUnsafeMutableBytes(of: &suffix) { suffixBuffer in
                let suffixBytes = UnsafeMutableRawBufferPointer(rebasing: suffixBuffer[0..<9])
                writeAADSuffix(index: index, isFinal: isFinal, into: suffixBytes)
                try aadPrefix.withUnsafeBytes { prefix in
                    try body(UnsafeRawBufferPointer(nonceBytes), prefix, UnsafeRawBufferPointer(suffixBytes))
                }
            }
        }
    }
}
