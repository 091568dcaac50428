import EDFSCrypto
import Testing

/// Errors the test helpers raise on malformed fixtures.
struct FixtureError: Error, CustomStringConvertible {
    let description: String
}

/// Decodes a hex fixture (whitespace ignored). Throws on odd length or a non-hex digit.
func hexBytes(_ text: String) throws -> [UInt8] {
    let digits = Array(text.filter { !$0.isWhitespace }.utf8)
    guard digits.count % 2 == 0 else { throw FixtureError(description: "odd-length hex fixture") }
    func nibble(_ c: UInt8) throws -> UInt8 {
        switch c {
        case UInt8(ascii: "0")...UInt8(ascii: "9"): return c - UInt8(ascii: "0")
        case UInt8(ascii: "a")...UInt8(ascii: "f"): return c - UInt8(ascii: "a") + 10
        case UInt8(ascii: "A")...UInt8(ascii: "F"): return c - UInt8(ascii: "A") + 10
        default: throw FixtureError(description: "non-hex digit in fixture")
        }
    }
    var out: [UInt8] = []
    out.reserveCapacity(digits.count / 2)
    var i = 0
    while i < digits.count {
        out.append(try nibble(digits[i]) << 4 | nibble(digits[i + 1]))
        i += 2
    }
    return out
}

/// Lower-case hex of `bytes`, for readable expectation failures.
func hexString(_ bytes: some Sequence<UInt8>) -> String {
    let digits = Array("0123456789abcdef".utf8)
    var out: [UInt8] = []
    for b in bytes {
        out.append(digits[Int(b >> 4)])
        out.append(digits[Int(b & 0x0f)])
    }
    return String(decoding: out, as: UTF8.self)
}

/// A deterministic pseudo-random byte pattern (xorshift), so failures are reproducible.
func patternBytes(_ count: Int, seed: UInt64) -> [UInt8] {
    var state = seed &* 0x9E37_79B9_7F4A_7C15 | 1
    var out = [UInt8](repeating: 0, count: count)
    for i in 0..<count {
        state ^= state << 13
        state ^= state >> 7
        state ^= state << 17
        out[i] = UInt8(truncatingIfNeeded: state >> 24)
    }
    return out
}

/// Big-endian bytes of an integer, written out independently of the code under test.
func bigEndianBytes<T: FixedWidthInteger>(_ value: T) -> [UInt8] {
    (0..<(T.bitWidth / 8)).reversed().map { UInt8(truncatingIfNeeded: value >> ($0 * 8)) }
}

/// Seals one message with a fresh `AESGCMContext` and returns ciphertext ‖ tag.
func sealOnce(key: SymmetricKey, nonce: [UInt8], aad: [UInt8], plaintext: [UInt8]) throws -> [UInt8] {
    let context = try AESGCMContext(key: key, direction: .seal)
    return try gcmSeal(context, nonce: nonce, aad: aad, plaintext: plaintext)
}

/// Seals one message with `context` and returns ciphertext ‖ tag.
func gcmSeal(_ context: AESGCMContext, nonce: [UInt8], aad: [UInt8], aadSuffix: [UInt8] = [],
          plaintext: [UInt8]) throws -> [UInt8] {
    var out = [UInt8](repeating: 0, count: plaintext.count + AESGCM.tagByteCount)
    try out.withUnsafeMutableBytes { buffer in
        let base = try #require(buffer.baseAddress)
        try nonce.withUnsafeBytes { n in
            try aad.withUnsafeBytes { a in
                try aadSuffix.withUnsafeBytes { s in
                    try plaintext.withUnsafeBytes { p in
                        try context.seal(nonce: n, aad: a, aadSuffix: s, plaintext: p,
                                         ciphertext: base, tag: base + plaintext.count)
                    }
                }
            }
        }
    }
    return out
}

/// Opens ciphertext ‖ tag with `context` into `output` (which must be `sealed.count - 16` long).
func gcmOpen(_ context: AESGCMContext, nonce: [UInt8], aad: [UInt8], aadSuffix: [UInt8] = [],
          sealed: [UInt8], into output: inout [UInt8]) throws {
    let cipherLength = sealed.count - AESGCM.tagByteCount
    precondition(output.count == cipherLength, "test helper given a wrong output length")
    try output.withUnsafeMutableBytes { out in
        try nonce.withUnsafeBytes { n in
            try aad.withUnsafeBytes { a in
                try aadSuffix.withUnsafeBytes { s in
                    try sealed.withUnsafeBytes { sealedBytes in
                        try context.open(nonce: n, aad: a, aadSuffix: s,
                                         ciphertext: UnsafeRawBufferPointer(rebasing: sealedBytes[0..<cipherLength]),
                                         tag: UnsafeRawBufferPointer(rebasing: sealedBytes[cipherLength...]),
                                         plaintext: out.baseAddress)
                    }
                }
            }
        }
    }
}

/// Opens ciphertext ‖ tag with `context` and returns the plaintext.
func gcmOpen(_ context: AESGCMContext, nonce: [UInt8], aad: [UInt8], aadSuffix: [UInt8] = [],
          sealed: [UInt8]) throws -> [UInt8] {
    var out = [UInt8](repeating: 0, count: sealed.count - AESGCM.tagByteCount)
    try gcmOpen(context, nonce: nonce, aad: aad, aadSuffix: aadSuffix, sealed: sealed, into: &out)
    return out
}

/// The documented per-segment rule of `SegmentScheme` (SegmentScheme.swift), written out independently:
/// nonce = noncePrefix (4 BE) ‖ index (8 BE); AAD = aadPrefix ‖ index (8 BE) ‖ final flag (1 byte).
enum ReferenceSegments {
    static func nonce(prefix: UInt32, index: UInt64) -> [UInt8] {
        bigEndianBytes(prefix) + bigEndianBytes(index)
    }

    static func aad(prefix: [UInt8], index: UInt64, isFinal: Bool) -> [UInt8] {
        prefix + bigEndianBytes(index) + [isFinal ? 1 : 0]
    }

    /// Splits `plaintext` into segments of `segmentSize` (one empty segment for an empty stream).
    static func split(_ plaintext: [UInt8], segmentSize: Int) -> [[UInt8]] {
        if plaintext.isEmpty { return [[]] }
        return stride(from: 0, to: plaintext.count, by: segmentSize).map {
            Array(plaintext[$0..<min($0 + segmentSize, plaintext.count)])
        }
    }

    /// Every sealed segment of a whole stream, one `AESGCMContext` per segment.
    static func sealedSegments(key: SymmetricKey, segmentSize: Int, noncePrefix: UInt32, aadPrefix: [UInt8],
                               plaintext: [UInt8]) throws -> [[UInt8]] {
        let segments = split(plaintext, segmentSize: segmentSize)
        return try segments.enumerated().map { i, segment in
            let index = UInt64(i)
            return try sealOnce(key: key, nonce: nonce(prefix: noncePrefix, index: index),
                                aad: aad(prefix: aadPrefix, index: index, isFinal: i == segments.count - 1),
                                plaintext: segment)
        }
    }

    /// The whole sealed stream, segment after segment.
    static func sealStream(key: SymmetricKey, segmentSize: Int, noncePrefix: UInt32, aadPrefix: [UInt8],
                           plaintext: [UInt8]) throws -> [UInt8] {
        try sealedSegments(key: key, segmentSize: segmentSize, noncePrefix: noncePrefix, aadPrefix: aadPrefix,
                           plaintext: plaintext).flatMap { $0 }
    }
}

/// Runs one batch through `cipher`: `input` in, a fresh output buffer of `outputCount` bytes out.
func runBatch(_ cipher: ParallelSegmentCipher, firstSegmentIndex: UInt64, endsStream: Bool,
             input: [UInt8], outputCount: Int) throws -> [UInt8] {
    var output = [UInt8](repeating: 0, count: outputCount)
    try input.withUnsafeBytes { inBytes in
        try output.withUnsafeMutableBytes { outBytes in
            try cipher.process(SegmentBatch(firstSegmentIndex: firstSegmentIndex, endsStream: endsStream,
                                            input: inBytes, output: outBytes))
        }
    }
    return output
}

/// Seals one batch of plaintext, sizing the output by the scheme.
func sealBatch(_ cipher: ParallelSegmentCipher, firstSegmentIndex: UInt64, endsStream: Bool,
               plaintext: [UInt8]) throws -> [UInt8] {
    try runBatch(cipher, firstSegmentIndex: firstSegmentIndex, endsStream: endsStream, input: plaintext,
                outputCount: cipher.scheme.sealedBatchLength(plaintextLength: plaintext.count))
}

/// Opens one batch of sealed segments, sizing the output by the scheme.
func openBatch(_ cipher: ParallelSegmentCipher, firstSegmentIndex: UInt64, endsStream: Bool,
               sealed: [UInt8]) throws -> [UInt8] {
    let plaintextCount = try #require(cipher.scheme.plaintextBatchLength(sealedLength: sealed.count))
    return try runBatch(cipher, firstSegmentIndex: firstSegmentIndex, endsStream: endsStream, input: sealed,
                       outputCount: plaintextCount)
}
