import EDFSCrypto
import Testing

/// `SegmentScheme` + `ParallelSegmentCipher` against a segment-by-segment reference built with
/// `AESGCMContext` and the nonce/AAD rule documented in SegmentScheme.swift.
@Suite("Parallel segment cipher")
struct ParallelSegmentCipherTests {
    static let segmentSize = 64
    static let lengths = [0, 1, segmentSize - 1, segmentSize, segmentSize + 1, 3 * segmentSize + 7]
    static let workerCounts = [1, 2, 3, 8]
    static let noncePrefix: UInt32 = 0x0A0B_0C0D
    static let aadPrefix = patternBytes(44, seed: 77)

    static func key() throws -> SymmetricKey { try SymmetricKey(copying: patternBytes(32, seed: 42)) }

    static func scheme(segmentSize: Int = segmentSize, noncePrefix: UInt32 = noncePrefix,
                       aadPrefix: [UInt8] = aadPrefix) throws -> SegmentScheme {
        try SegmentScheme(segmentSize: segmentSize, noncePrefix: noncePrefix, aadPrefix: aadPrefix)
    }

    static func cipher(_ direction: AESGCMContext.Direction, workers: Int,
                       scheme: SegmentScheme? = nil) throws -> ParallelSegmentCipher {
        try ParallelSegmentCipher(key: key(), scheme: scheme ?? Self.scheme(), direction: direction, workers: workers)
    }

    static func reference(_ plaintext: [UInt8]) throws -> [UInt8] {
        try ReferenceSegments.sealStream(key: key(), segmentSize: segmentSize, noncePrefix: noncePrefix,
                                         aadPrefix: aadPrefix, plaintext: plaintext)
    }

    /// Every way to cut `count` segments into consecutive non-empty batches, as batch sizes in segments.
    static func compositions(of count: Int) -> [[Int]] {
        if count == 0 { return [[]] }
        return (1...count).flatMap { first in compositions(of: count - first).map { [first] + $0 } }
    }

    // MARK: - Identical bytes

    @Test("one batch seals to exactly the reference bytes and opens back", arguments: lengths, workerCounts)
    func oneBatch(length: Int, workers: Int) throws {
        let plaintext = patternBytes(length, seed: UInt64(length) + 1)
        let reference = try Self.reference(plaintext)
        let sealer = try Self.cipher(.seal, workers: workers)
        let sealed = try sealBatch(sealer, firstSegmentIndex: 0, endsStream: true, plaintext: plaintext)
        #expect(sealed.count == Int(sealer.scheme.sealedLength(plaintextLength: UInt64(length))))
        #expect(sealed == reference, "length \(length), workers \(workers)")
        let opener = try Self.cipher(.open, workers: workers)
        #expect(try openBatch(opener, firstSegmentIndex: 0, endsStream: true, sealed: sealed) == plaintext)
    }

    @Test("batches cut at every whole-segment boundary seal and open like one batch", arguments: lengths, workerCounts)
    func splitBatches(length: Int, workers: Int) throws {
        let s = Self.segmentSize
        let plaintext = patternBytes(length, seed: UInt64(length) + 100)
        let reference = try Self.reference(plaintext)
        let segmentCount = Int(try Self.scheme().segmentCount(plaintextLength: UInt64(length)))
        let sealer = try Self.cipher(.seal, workers: workers)
        let opener = try Self.cipher(.open, workers: workers)
        for cut in Self.compositions(of: segmentCount) {
            var sealed: [UInt8] = [], opened: [UInt8] = []
            var segment = 0
            for (b, size) in cut.enumerated() {
                let last = b == cut.count - 1
                let plainRange = (segment * s)..<min((segment + size) * s, length)
                let sealedRange = (segment * (s + 16))..<min((segment + size) * (s + 16), reference.count)
                sealed += try sealBatch(sealer, firstSegmentIndex: UInt64(segment), endsStream: last,
                                        plaintext: Array(plaintext[plainRange]))
                opened += try openBatch(opener, firstSegmentIndex: UInt64(segment), endsStream: last,
                                        sealed: Array(reference[sealedRange]))
                segment += size
            }
            #expect(sealed == reference, "cut \(cut), workers \(workers)")
            #expect(opened == plaintext, "cut \(cut), workers \(workers)")
        }
    }

    @Test("1 MiB segments: parallel and serial sealing agree with the reference")
    func realisticSegments() throws {
        let s = 1 << 20
        let plaintext = try SecureRandom.bytes(3 * s + 12345)
        let scheme = try Self.scheme(segmentSize: s, noncePrefix: 7, aadPrefix: Array("header".utf8))
        let reference = try ReferenceSegments.sealStream(key: Self.key(), segmentSize: s, noncePrefix: 7,
                                                         aadPrefix: Array("header".utf8), plaintext: plaintext)
        let serial = try sealBatch(Self.cipher(.seal, workers: 1, scheme: scheme), firstSegmentIndex: 0,
                                   endsStream: true, plaintext: plaintext)
        let parallel = try sealBatch(Self.cipher(.seal, workers: 2, scheme: scheme), firstSegmentIndex: 0,
                                     endsStream: true, plaintext: plaintext)
        // Compared as Bools so a failure does not print megabytes.
        let serialMatches = serial == reference, parallelMatches = parallel == reference
        #expect(serialMatches)
        #expect(parallelMatches)
        let opened = try openBatch(Self.cipher(.open, workers: 2, scheme: scheme), firstSegmentIndex: 0,
                                   endsStream: true, sealed: parallel)
        let openedMatches = opened == plaintext
        #expect(openedMatches)
    }

    @Test("a batch that starts at a high segment index uses that index in nonce and AAD")
    func highSegmentIndex() throws {
        let first: UInt64 = 0x0102_0304_0506_0708
        let plaintext = patternBytes(2 * Self.segmentSize + 5, seed: 3)
        let segments = ReferenceSegments.split(plaintext, segmentSize: Self.segmentSize)
        var reference: [UInt8] = []
        for (i, segment) in segments.enumerated() {
            let index = first + UInt64(i)
            reference += try sealOnce(key: Self.key(), nonce: ReferenceSegments.nonce(prefix: Self.noncePrefix, index: index),
                                      aad: ReferenceSegments.aad(prefix: Self.aadPrefix, index: index,
                                                                 isFinal: i == segments.count - 1),
                                      plaintext: segment)
        }
        for workers in Self.workerCounts {
            let sealed = try sealBatch(Self.cipher(.seal, workers: workers), firstSegmentIndex: first, endsStream: true,
                                       plaintext: plaintext)
            #expect(sealed == reference, "workers \(workers)")
            #expect(try openBatch(Self.cipher(.open, workers: workers), firstSegmentIndex: first, endsStream: true,
                                  sealed: sealed) == plaintext)
        }
    }

    // MARK: - Tampering names the failing segment

    /// Opens `sealed` and returns the `SegmentCipherError` it must throw.
    private func openFailure(_ sealed: [UInt8], workers: Int, firstSegmentIndex: UInt64 = 0, endsStream: Bool = true,
                             scheme: SegmentScheme? = nil) throws -> SegmentCipherError {
        let opener = try Self.cipher(.open, workers: workers, scheme: scheme)
        return try #require(throws: SegmentCipherError.self) {
            _ = try openBatch(opener, firstSegmentIndex: firstSegmentIndex, endsStream: endsStream, sealed: sealed)
        }
    }

    private func expectFailure(_ error: SegmentCipherError, at segment: UInt64, _ comment: Comment,
                               sourceLocation: SourceLocation = #_sourceLocation) {
        #expect(error.segmentIndex == segment, comment, sourceLocation: sourceLocation)
        #expect(error.isAuthenticationFailure, comment, sourceLocation: sourceLocation)
        #expect(error.description.hasPrefix("segment \(segment): authentication failed"), comment,
                sourceLocation: sourceLocation)
    }

    /// Sealed segments of the 3S+7 stream (4 segments, the last 7 bytes long).
    private func sealedSegments() throws -> [[UInt8]] {
        try ReferenceSegments.sealedSegments(key: Self.key(), segmentSize: Self.segmentSize, noncePrefix: Self.noncePrefix,
                                             aadPrefix: Self.aadPrefix,
                                             plaintext: patternBytes(3 * Self.segmentSize + 7, seed: 11))
    }

    @Test("swapping two sealed segments fails at the first swapped one", arguments: workerCounts)
    func swappedSegments(workers: Int) throws {
        let segments = try sealedSegments()
        for (a, b) in [(0, 1), (1, 2), (0, 2)] {
            var swapped = segments
            swapped.swapAt(a, b)
            expectFailure(try openFailure(swapped.flatMap { $0 }, workers: workers), at: UInt64(a), "swap \(a)↔\(b)")
        }
    }

    @Test("dropping the final segment fails at the new last segment", arguments: workerCounts)
    func droppedFinalSegment(workers: Int) throws {
        let segments = try sealedSegments()
        expectFailure(try openFailure(segments.dropLast().flatMap { $0 }, workers: workers), at: 2, "dropped final")
        // Dropping the final segment of a stream whose segments are all full.
        let full = try ReferenceSegments.sealedSegments(key: Self.key(), segmentSize: Self.segmentSize,
                                                        noncePrefix: Self.noncePrefix, aadPrefix: Self.aadPrefix,
                                                        plaintext: patternBytes(3 * Self.segmentSize, seed: 12))
        expectFailure(try openFailure(full.dropLast().flatMap { $0 }, workers: workers), at: 1, "dropped full final")
    }

    @Test("a segment appended after the final one fails at the old final segment", arguments: workerCounts)
    func appendedSegment(workers: Int) throws {
        let segments = try sealedSegments()
        expectFailure(try openFailure((segments + [segments[1]]).flatMap { $0 }, workers: workers), at: 3,
                      "appended copy")
    }

    @Test("marking a non-final batch final, or the final batch non-final, fails at its last segment",
          arguments: workerCounts)
    func finalFlag(workers: Int) throws {
        let s = Self.segmentSize
        let sealer = try Self.cipher(.seal, workers: workers)
        let plaintext = patternBytes(3 * s, seed: 13)
        let nonFinal = try sealBatch(sealer, firstSegmentIndex: 5, endsStream: false, plaintext: plaintext)
        expectFailure(try openFailure(nonFinal, workers: workers, firstSegmentIndex: 5, endsStream: true), at: 7,
                      "non-final opened as final")
        let final = try sealBatch(sealer, firstSegmentIndex: 5, endsStream: true, plaintext: plaintext)
        expectFailure(try openFailure(final, workers: workers, firstSegmentIndex: 5, endsStream: false), at: 7,
                      "final opened as non-final")
        // The genuine flags open.
        let opener = try Self.cipher(.open, workers: workers)
        #expect(try openBatch(opener, firstSegmentIndex: 5, endsStream: false, sealed: nonFinal) == plaintext)
        #expect(try openBatch(opener, firstSegmentIndex: 5, endsStream: true, sealed: final) == plaintext)
    }

    @Test("another nonce prefix, AAD prefix or starting index fails at the batch's first segment",
          arguments: workerCounts)
    func wrongContext(workers: Int) throws {
        let sealed = try sealedSegments().flatMap { $0 }
        expectFailure(try openFailure(sealed, workers: workers, scheme: Self.scheme(noncePrefix: Self.noncePrefix ^ 1)),
                      at: 0, "nonce prefix")
        expectFailure(try openFailure(sealed, workers: workers, scheme: Self.scheme(noncePrefix: 0)), at: 0,
                      "nonce prefix zero")
        var aad = Self.aadPrefix
        aad[43] ^= 0x80
        expectFailure(try openFailure(sealed, workers: workers, scheme: Self.scheme(aadPrefix: aad)), at: 0, "AAD prefix")
        expectFailure(try openFailure(sealed, workers: workers, scheme: Self.scheme(aadPrefix: Self.aadPrefix + [0])),
                      at: 0, "AAD prefix longer")
        expectFailure(try openFailure(sealed, workers: workers, firstSegmentIndex: 1), at: 1, "shifted index")
        // A later batch moved to another position in the stream.
        let tail = Array(sealed[(2 * (Self.segmentSize + 16))...])
        expectFailure(try openFailure(tail, workers: workers, firstSegmentIndex: 1), at: 1, "moved batch")
        let opener = try Self.cipher(.open, workers: workers)
        #expect(try openBatch(opener, firstSegmentIndex: 2, endsStream: true, sealed: tail)
                == Array(patternBytes(3 * Self.segmentSize + 7, seed: 11)[(2 * Self.segmentSize)...]))
    }

    @Test("with several bad segments the lowest is named, every time", arguments: workerCounts)
    func lowestFailureNamed(workers: Int) throws {
        let plaintext = patternBytes(12 * Self.segmentSize, seed: 14)
        let sealed = try Self.reference(plaintext)
        let stride = Self.segmentSize + 16
        for round in 0..<20 {
            var bad = sealed
            let first = 2 + round % 5
            bad[first * stride + round % stride] ^= 0x01
            bad[9 * stride + 3] ^= 0x10
            bad[11 * stride + stride - 1] ^= 0x01
            expectFailure(try openFailure(bad, workers: workers), at: UInt64(first), "round \(round)")
        }
    }

    @Test("a failed open writes no plaintext for the failing segment")
    func failedSegmentZeroed() throws {
        let plaintext = patternBytes(2 * Self.segmentSize, seed: 15)
        var sealed = try Self.reference(plaintext)
        sealed[Self.segmentSize + 16 + 3] ^= 0x01  // segment 1's ciphertext
        for workers in [1, 2] {
            let opener = try Self.cipher(.open, workers: workers)
            var output = [UInt8](repeating: 0xA5, count: plaintext.count)
            let error = try #require(throws: SegmentCipherError.self) {
                try sealed.withUnsafeBytes { input in
                    try output.withUnsafeMutableBytes { out in
                        try opener.process(SegmentBatch(firstSegmentIndex: 0, endsStream: true, input: input, output: out))
                    }
                }
            }
            expectFailure(error, at: 1, "workers \(workers)")
            #expect(output[Self.segmentSize...].allSatisfy { $0 == 0 }, "workers \(workers)")
        }
    }

    // MARK: - Batch validation

    private func cryptoError(_ body: () throws -> Void) throws -> CryptoError {
        try #require(throws: CryptoError.self) { try body() }
    }

    @Test("sealing rejects partial segments before the end and wrong output lengths", arguments: [1, 3])
    func sealingValidation(workers: Int) throws {
        let s = Self.segmentSize
        let sealer = try Self.cipher(.seal, workers: workers)
        for length in [0, 1, s - 1, s + 1, 2 * s + 7] {
            let error = try cryptoError {
                _ = try runBatch(sealer, firstSegmentIndex: 0, endsStream: false, input: patternBytes(length, seed: 1),
                                outputCount: sealer.scheme.sealedBatchLength(plaintextLength: length))
            }
            guard case .invalidParameter = error else {
                Issue.record("non-final batch of \(length) bytes: \(error)")
                continue
            }
        }
        for (length, outputCount) in [(0, 0), (0, 15), (0, 17), (s, s + 15), (s, s + 17), (s + 1, s + 17), (s + 1, s + 34)] {
            let error = try cryptoError {
                _ = try runBatch(sealer, firstSegmentIndex: 0, endsStream: true, input: patternBytes(length, seed: 1),
                                outputCount: outputCount)
            }
            #expect(error == .invalidLength(what: "sealed batch buffer",
                                            expected: sealer.scheme.sealedBatchLength(plaintextLength: length),
                                            actual: outputCount))
        }
    }

    @Test("opening rejects impossible sealed lengths, partial segments before the end and wrong output lengths",
          arguments: [1, 3])
    func openingValidation(workers: Int) throws {
        let s = Self.segmentSize, sealedSegment = s + 16
        let opener = try Self.cipher(.open, workers: workers)
        for sealedLength in [0, 1, 15, sealedSegment + 1, sealedSegment + 15, 3 * sealedSegment + 15] {
            let error = try cryptoError {
                _ = try runBatch(opener, firstSegmentIndex: 0, endsStream: true,
                                input: [UInt8](repeating: 0, count: sealedLength), outputCount: 0)
            }
            guard case .invalidParameter = error else {
                Issue.record("sealed batch of \(sealedLength) bytes: \(error)")
                continue
            }
        }
        for sealedLength in [16, 17, sealedSegment + 16, 2 * sealedSegment - 1] {
            let error = try cryptoError {
                _ = try runBatch(opener, firstSegmentIndex: 0, endsStream: false,
                                input: [UInt8](repeating: 0, count: sealedLength),
                                outputCount: try #require(opener.scheme.plaintextBatchLength(sealedLength: sealedLength)))
            }
            guard case .invalidParameter = error else {
                Issue.record("non-final sealed batch of \(sealedLength) bytes: \(error)")
                continue
            }
        }
        for (sealedLength, outputCount) in [(16, 1), (sealedSegment, s - 1), (sealedSegment, s + 1), (sealedSegment + 17, s)] {
            let error = try cryptoError {
                _ = try runBatch(opener, firstSegmentIndex: 0, endsStream: true,
                                input: [UInt8](repeating: 0, count: sealedLength), outputCount: outputCount)
            }
            #expect(error == .invalidLength(what: "plaintext batch buffer",
                                            expected: try #require(opener.scheme.plaintextBatchLength(sealedLength: sealedLength)),
                                            actual: outputCount))
        }
    }

    @Test("scheme and cipher parameters are range-checked")
    func parameterChecks() throws {
        for bad in [0, -1, SegmentScheme.maximumSegmentSize + 1] {
            #expect(throws: CryptoError.self) { _ = try SegmentScheme(segmentSize: bad, noncePrefix: 0, aadPrefix: []) }
        }
        _ = try SegmentScheme(segmentSize: SegmentScheme.maximumSegmentSize, noncePrefix: 0, aadPrefix: [])
        for bad in [0, -1, 257] {
            #expect(throws: CryptoError.self) { _ = try Self.cipher(.seal, workers: bad) }
        }
        #expect(try Self.cipher(.seal, workers: 256).workers == 256)
        #expect(ParallelSegmentCipher.defaultWorkers >= 1)
    }

    @Test("length arithmetic: counts, sealed lengths and their inverse agree for every small length")
    func lengthArithmetic() throws {
        let s = Self.segmentSize
        let scheme = try Self.scheme()
        #expect(scheme.segmentCount(plaintextLength: 0) == 1)
        #expect(scheme.segmentCount(plaintextLength: 1) == 1)
        #expect(scheme.segmentCount(plaintextLength: UInt64(s)) == 1)
        #expect(scheme.segmentCount(plaintextLength: UInt64(s + 1)) == 2)
        #expect(scheme.sealedLength(plaintextLength: 0) == 16)
        #expect(SegmentScheme.sealedSegmentLength(s) == s + 16)
        for n in 0...(5 * s) {
            let expectedSegments = n == 0 ? 1 : (n + s - 1) / s
            let sealed = scheme.sealedBatchLength(plaintextLength: n)
            #expect(sealed == n + 16 * expectedSegments, "n \(n)")
            #expect(UInt64(sealed) == scheme.sealedLength(plaintextLength: UInt64(n)), "n \(n)")
            #expect(scheme.plaintextBatchLength(sealedLength: sealed) == n, "n \(n)")
        }
        for impossible in [0, 1, 15, s + 17, s + 31, 2 * (s + 16) + 15] {
            #expect(scheme.plaintextBatchLength(sealedLength: impossible) == nil, "sealed \(impossible)")
        }
    }
}
