import EDFSCrypto
import Testing

/// One flipped bit anywhere in what GCM authenticates makes open fail with a typed error and leaves no
/// unauthenticated plaintext behind.
@Suite("AES-256-GCM tamper detection")
struct TamperTests {
    enum Part: String, CaseIterable, Sendable { case ciphertext, tag, aad, nonce }

    struct Fixture {
        let key: SymmetricKey
        let nonce: [UInt8]
        let aad: [UInt8]
        let plaintext: [UInt8]
        let sealed: [UInt8]

        init() throws {
            key = try SymmetricKey(copying: patternBytes(32, seed: 1))
            nonce = patternBytes(12, seed: 2)
            aad = patternBytes(21, seed: 3)
            plaintext = patternBytes(77, seed: 4)
            sealed = try sealOnce(key: key, nonce: nonce, aad: aad, plaintext: plaintext)
        }
    }

    /// Every bit position of `part`'s bytes (ciphertext and tag are both within `sealed`).
    static func bitCount(of part: Part) -> Int {
        switch part {
        case .ciphertext: return 77 * 8
        case .tag: return 16 * 8
        case .aad: return 21 * 8
        case .nonce: return 12 * 8
        }
    }

    @Test("the untampered message opens")
    func untampered() throws {
        let f = try Fixture()
        let context = try AESGCMContext(key: f.key, direction: .open)
        #expect(try gcmOpen(context, nonce: f.nonce, aad: f.aad, sealed: f.sealed) == f.plaintext)
    }

    @Test("every single flipped bit fails with authenticationFailed and a zeroed output", arguments: Part.allCases)
    func flippedBit(_ part: Part) throws {
        let f = try Fixture()
        let context = try AESGCMContext(key: f.key, direction: .open)  // reused across failures on purpose
        for bit in 0..<Self.bitCount(of: part) {
            var nonce = f.nonce, aad = f.aad, sealed = f.sealed
            switch part {
            case .ciphertext: sealed[bit / 8] ^= 1 << (bit % 8)
            case .tag: sealed[f.plaintext.count + bit / 8] ^= 1 << (bit % 8)
            case .aad: aad[bit / 8] ^= 1 << (bit % 8)
            case .nonce: nonce[bit / 8] ^= 1 << (bit % 8)
            }
            var output = [UInt8](repeating: 0xA5, count: f.plaintext.count)
            #expect(throws: CryptoError.authenticationFailed, "\(part) bit \(bit)") {
                try gcmOpen(context, nonce: nonce, aad: aad, sealed: sealed, into: &output)
            }
            #expect(output.allSatisfy { $0 == 0 }, "\(part) bit \(bit): output not zeroed")
        }
        // The context still opens the genuine message after all those failures.
        #expect(try gcmOpen(context, nonce: f.nonce, aad: f.aad, sealed: f.sealed) == f.plaintext)
    }

    @Test("AAD appended or removed, and a truncated ciphertext, fail to open")
    func lengthChanges() throws {
        let f = try Fixture()
        let context = try AESGCMContext(key: f.key, direction: .open)
        #expect(throws: CryptoError.authenticationFailed) {
            _ = try gcmOpen(context, nonce: f.nonce, aad: f.aad + [0], sealed: f.sealed)
        }
        #expect(throws: CryptoError.authenticationFailed) {
            _ = try gcmOpen(context, nonce: f.nonce, aad: Array(f.aad.dropLast()), sealed: f.sealed)
        }
        #expect(throws: CryptoError.authenticationFailed) {
            _ = try gcmOpen(context, nonce: f.nonce, aad: f.aad, aadSuffix: [0], sealed: f.sealed)
        }
        var truncated = f.sealed
        truncated.remove(at: f.plaintext.count - 1)  // drop the last ciphertext byte, keep the tag
        #expect(throws: CryptoError.authenticationFailed) {
            _ = try gcmOpen(context, nonce: f.nonce, aad: f.aad, sealed: truncated)
        }
    }

    @Test("a different key fails to open")
    func wrongKey() throws {
        let f = try Fixture()
        var otherKey = patternBytes(32, seed: 1)
        otherKey[31] ^= 0x80
        let context = try AESGCMContext(key: SymmetricKey(copying: otherKey), direction: .open)
        var output = [UInt8](repeating: 0xA5, count: f.plaintext.count)
        #expect(throws: CryptoError.authenticationFailed) {
            try gcmOpen(context, nonce: f.nonce, aad: f.aad, sealed: f.sealed, into: &output)
        }
        #expect(output.allSatisfy { $0 == 0 })
    }

    @Test("the error message names no secret")
    func errorText() {
        #expect(CryptoError.authenticationFailed.description == "authentication failed (wrong key, or the data was changed)")
    }
}
