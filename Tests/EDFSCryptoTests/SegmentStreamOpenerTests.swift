import EDFSCrypto
import Testing

/// `SegmentStreamOpener` (segments opened as their bytes arrive, in pieces of any size) against the reference stream
/// of ReferenceSegments: the same plaintext as a whole-stream open, each tag checked when its last byte arrives, and
/// nothing accepted that the batch opener would refuse.
@Suite("Segment stream opener")
struct SegmentStreamOpenerTests {
    static let segmentSize = 64
    static let sealedSegment = segmentSize + 16
    static let lengths = [0, 1, segmentSize - 1, segmentSize, segmentSize + 1, 3 * segmentSize + 7]

    static func sealed(_ plaintext: [UInt8]) throws -> [UInt8] {
        try ReferenceSegments.sealStream(key: ParallelSegmentCipherTests.key(), segmentSize: segmentSize,
                                         noncePrefix: ParallelSegmentCipherTests.noncePrefix,
                                         aadPrefix: ParallelSegmentCipherTests.aadPrefix, plaintext: plaintext)
    }

    static func opener(sealedTotal: Int) throws -> SegmentStreamOpener {
        try SegmentStreamOpener(key: ParallelSegmentCipherTests.key(), scheme: ParallelSegmentCipherTests.scheme(),
                                sealedTotal: UInt64(sealedTotal))
    }

    /// Feeds `sealed` in pieces of the given sizes (cycled); returns the plaintext and whether every piece was taken
    /// whole. Records after each piece whether the opener stood at a segment boundary.
    static func open(_ sealed: [UInt8], pieces: [Int], opener: SegmentStreamOpener,
                     boundaries: inout [Int]) throws -> [UInt8] {
        var plaintext = [UInt8](repeating: 0, count: sealed.count)
        var offset = 0, produced = 0, piece = 0
        try sealed.withUnsafeBytes { input in
            try plaintext.withUnsafeMutableBytes { output in
                while offset < input.count {
                    let count = min(max(1, pieces[piece % pieces.count]), input.count - offset)
                    piece += 1
                    let step = try opener.feed(UnsafeRawBufferPointer(rebasing: input[offset..<(offset + count)]),
                                               into: output.baseAddress.map { $0 + produced })
                    #expect(step.consumed == count)
                    offset += step.consumed
                    produced += step.produced
                    if opener.atSegmentBoundary { boundaries.append(offset) }
                }
            }
        }
        return Array(plaintext[0..<produced])
    }

    @Test("any split of the stream opens to the plaintext; the boundary is reached exactly at each segment's end",
          arguments: lengths)
    func anySplit(length: Int) throws {
        let plaintext = patternBytes(length, seed: UInt64(length) + 5)
        let sealed = try Self.sealed(plaintext)
        for pieces in [[1], [7], [15, 1], [16], [63], [64, 16], [79, 2], [80], [81], [500], [3, 50, 100]] {
            let opener = try Self.opener(sealedTotal: sealed.count)
            var boundaries: [Int] = []
            #expect(try Self.open(sealed, pieces: pieces, opener: opener, boundaries: &boundaries) == plaintext,
                    "length \(length), pieces \(pieces)")
            #expect(opener.sealedConsumed == UInt64(sealed.count))
            // Every boundary seen is the end of a segment, and the stream ends on one.
            #expect(boundaries.allSatisfy { $0 % Self.sealedSegment == 0 || $0 == sealed.count })
            #expect(boundaries.last == sealed.count)
        }
    }

    @Test("a changed byte fails its segment, wherever it is and however the stream is cut")
    func changedByte() throws {
        let plaintext = patternBytes(3 * Self.segmentSize + 7, seed: 9)
        let sealed = try Self.sealed(plaintext)
        for position in [0, 5, Self.segmentSize, Self.segmentSize + 15, Self.sealedSegment, 2 * Self.sealedSegment + 70,
                         sealed.count - 1] {
            for pieces in [[1], [33], [1000]] {
                var bad = sealed
                bad[position] ^= 0x01
                let opener = try Self.opener(sealedTotal: bad.count)
                var boundaries: [Int] = []
                let error = #expect(throws: SegmentCipherError.self) {
                    _ = try Self.open(bad, pieces: pieces, opener: opener, boundaries: &boundaries)
                }
                #expect(error?.isAuthenticationFailure == true)
                #expect(error?.segmentIndex == UInt64(position / Self.sealedSegment), "byte \(position), pieces \(pieces)")
                // No boundary was reported at or past the failed segment's end.
                #expect(boundaries.allSatisfy { $0 <= (position / Self.sealedSegment) * Self.sealedSegment })
            }
        }
    }

    @Test("a stream cut after a whole segment is refused: the last segment it has was sealed as not final")
    func truncatedAtBoundary() throws {
        let sealed = try Self.sealed(patternBytes(3 * Self.segmentSize, seed: 11))
        let cut = Array(sealed[0..<(2 * Self.sealedSegment)])
        let opener = try Self.opener(sealedTotal: cut.count)
        var boundaries: [Int] = []
        let error = #expect(throws: SegmentCipherError.self) {
            _ = try Self.open(cut, pieces: [Self.sealedSegment], opener: opener, boundaries: &boundaries)
        }
        #expect(error?.segmentIndex == 1)
        #expect(boundaries.last == Self.sealedSegment)
    }

    @Test("bytes past the stream's end are not taken")
    func trailingBytes() throws {
        let sealed = try Self.sealed(patternBytes(10, seed: 12))
        let opener = try Self.opener(sealedTotal: sealed.count)
        var output = [UInt8](repeating: 0, count: sealed.count + 5)
        let longer = sealed + [1, 2, 3, 4, 5]
        let step = try longer.withUnsafeBytes { input in
            try output.withUnsafeMutableBytes { try opener.feed(input, into: $0.baseAddress) }
        }
        #expect(step.consumed == sealed.count && step.produced == 10)
        #expect(Array(output[0..<10]) == patternBytes(10, seed: 12))
    }

    @Test("a length that is not a whole number of segments is refused")
    func badLength() throws {
        for total in [0, 1, 15, Self.sealedSegment + 15] {
            #expect(throws: CryptoError.self) { _ = try Self.opener(sealedTotal: total) }
        }
    }

    @Test("a rewind to an opened segment's start opens the rest again from another source; a rewind elsewhere is refused")
    func rewind() throws {
        let plaintext = patternBytes(3 * Self.segmentSize + 7, seed: 13)
        let sealed = try Self.sealed(plaintext)
        let opener = try Self.opener(sealedTotal: sealed.count)
        var scratch = [UInt8](repeating: 0, count: sealed.count)
        // Source 1: a segment and a half, then it fails.
        _ = try sealed.withUnsafeBytes { input in
            try scratch.withUnsafeMutableBytes {
                try opener.feed(UnsafeRawBufferPointer(rebasing: input[0..<(Self.sealedSegment + 30)]), into: $0.baseAddress)
            }
        }
        #expect(!opener.atSegmentBoundary && opener.segmentsOpened == 1)
        #expect(throws: CryptoError.self) { try opener.rewind(toSealedOffset: 2 * UInt64(Self.sealedSegment)) }
        #expect(throws: CryptoError.self) { try opener.rewind(toSealedOffset: 10) }
        try opener.rewind(toSealedOffset: UInt64(Self.sealedSegment))
        // Source 2, from the second segment on.
        var boundaries: [Int] = []
        let rest = try Self.open(Array(sealed[Self.sealedSegment...]), pieces: [29], opener: opener, boundaries: &boundaries)
        #expect(rest == Array(plaintext[Self.segmentSize...]))
        #expect(opener.sealedConsumed == UInt64(sealed.count) && opener.atSegmentBoundary)
    }
}
