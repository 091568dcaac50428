/// Opens one stream of sealed segments (`SegmentScheme`) as its bytes arrive, in pieces of any size: each run of
/// ciphertext is decrypted where it lies (from the received buffer, no copy into a batch first) and each segment's
/// 16-byte tag is gathered and checked as soon as its last byte arrives (docs/PERFORMANCE.md, "Opening segments where
/// they arrive").
///
/// The plaintext goes to the memory the caller passes to each `feed`, segment after segment. A segment's plaintext is
/// authentic only once `feed` has taken its tag (`atSegmentBoundary`, `segmentsOpened`); until then the caller must
/// not use it, and when `feed` throws it must wipe what it was given of the failed segment. One EVP context, used by
/// one caller at a time.
public final class SegmentStreamOpener {
    public let scheme: SegmentScheme
    private let context: AESGCMContext
    /// Sealed bytes of the whole stream and its number of segments.
    public let sealedTotal: UInt64
    private let segmentCount: UInt64
    /// Sealed bytes taken so far (those of the segment in progress included).
    public private(set) var sealedConsumed: UInt64 = 0
    /// Segments opened and authenticated so far (the index of the segment in progress).
    public private(set) var segmentsOpened: UInt64 = 0
    private var inSegment = 0
    private var tag = (UInt64(0), UInt64(0))

    /// An opener of a stream of `sealedTotal` sealed bytes (at least one tag) under `key`.
    public init(key: SymmetricKey, scheme: SegmentScheme, sealedTotal: UInt64) throws {
        let sealedSegment = UInt64(scheme.segmentSize + AESGCM.tagByteCount)
        let rest = sealedTotal % sealedSegment
        guard sealedTotal > 0, rest == 0 || rest >= UInt64(AESGCM.tagByteCount) else {
            throw CryptoError.invalidParameter("a sealed stream of \(sealedTotal) bytes is not a whole number of segments")
        }
        self.scheme = scheme
        self.sealedTotal = sealedTotal
        segmentCount = sealedTotal / sealedSegment + (rest == 0 ? 0 : 1)
        context = try AESGCMContext(key: key, direction: .open)
    }

    /// Whether no segment is part-way: everything taken so far is authenticated.
    public var atSegmentBoundary: Bool { inSegment == 0 }

    /// Ciphertext bytes of segment `index` (every segment is whole but the last).
    private func cipherLength(_ index: UInt64) -> Int {
        let sealedSegment = UInt64(scheme.segmentSize + AESGCM.tagByteCount)
        guard index == segmentCount - 1 else { return scheme.segmentSize }
        return Int(sealedTotal - index * sealedSegment) - AESGCM.tagByteCount
    }

    /// Takes sealed bytes from `input`, in order, until it is used up or the stream ends; writes their plaintext from
    /// `output` on (room for `input.count` bytes). Returns the bytes taken and the plaintext bytes written. A segment
    /// whose tag does not verify throws `SegmentCipherError` (its `isAuthenticationFailure`) naming it.
    public func feed(_ input: UnsafeRawBufferPointer, into output: UnsafeMutableRawPointer?) throws
        -> (consumed: Int, produced: Int) {
        var consumed = 0
        var produced = 0
        while consumed < input.count, segmentsOpened < segmentCount {
            let index = segmentsOpened
            let cipherBytes = cipherLength(index)
            do {
                if inSegment == 0 {
                    try scheme.withParameters(index: index, isFinal: index == segmentCount - 1) { nonce, prefix, suffix in
                        try context.beginOpen(nonce: nonce, aad: prefix, aadSuffix: suffix)
                    }
                }
                let available = input.count - consumed
                if inSegment < cipherBytes {
                    let count = min(cipherBytes - inSegment, available)
                    guard let output else { throw CryptoError.invalidParameter("no plaintext buffer") }
                    try context.openPart(UnsafeRawBufferPointer(rebasing: input[consumed..<(consumed + count)]),
                                         into: output + produced)
                    consumed += count
                    produced += count
                    inSegment += count
                } else {
                    let have = inSegment - cipherBytes
                    let count = min(AESGCM.tagByteCount - have, available)
                    withUnsafeMutableBytes(of: &tag) { tagBytes in
                        UnsafeMutableRawBufferPointer(rebasing: tagBytes[have..<(have + count)])
                            .copyMemory(from: UnsafeRawBufferPointer(rebasing: input[consumed..<(consumed + count)]))
                    }
                    consumed += count
                    inSegment += count
                    if have + count == AESGCM.tagByteCount {
                        try withUnsafeBytes(of: &tag) { try context.finishOpen(tag: $0) }
                        segmentsOpened += 1
                        inSegment = 0
                    }
                }
            } catch {
                sealedConsumed += UInt64(consumed)
                throw SegmentCipherError(segmentIndex: index, underlying: error)
            }
        }
        sealedConsumed += UInt64(consumed)
        return (consumed, produced)
    }

    /// Forgets the segment in progress and continues from `sealedOffset`, the start of a segment already opened or
    /// the next one (a reader that abandons a source part-way and resumes from another at its last whole batch).
    public func rewind(toSealedOffset sealedOffset: UInt64) throws {
        let sealedSegment = UInt64(scheme.segmentSize + AESGCM.tagByteCount)
        let segment = sealedOffset == sealedTotal ? segmentCount : sealedOffset / sealedSegment
        guard sealedOffset == sealedTotal || sealedOffset % sealedSegment == 0, segment <= segmentsOpened else {
            throw CryptoError.invalidParameter("rewind to \(sealedOffset): not the start of an opened segment")
        }
        segmentsOpened = segment
        sealedConsumed = sealedOffset
        inSegment = 0
    }
}
