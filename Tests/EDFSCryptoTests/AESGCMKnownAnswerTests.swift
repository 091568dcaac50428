import EDFSCrypto
import Testing

/// AES-256-GCM known answers: McGrew & Viega, "The Galois/Counter Mode of Operation (GCM)", revised
/// specification, Appendix B, test cases 13–16 (the 256-bit key cases). Every value was cross-checked
/// against Python `cryptography`'s AESGCM when transcribed.
@Suite("AES-256-GCM known answers")
struct AESGCMKnownAnswerTests {
    struct Vector: CustomTestStringConvertible, Sendable {
        let name: String
        let key: String
        let nonce: String
        let plaintext: String
        let aad: String
        let ciphertext: String
        let tag: String
        var testDescription: String { name }
    }

    static let zeroKey = String(repeating: "00", count: 32)
    static let key15 = "feffe9928665731c6d6a8f9467308308feffe9928665731c6d6a8f9467308308"
    static let nonce15 = "cafebabefacedbaddecaf888"

    static let vectors: [Vector] = [
        Vector(name: "GCM spec test case 13 (empty plaintext, no AAD)",
               key: zeroKey, nonce: "000000000000000000000000", plaintext: "", aad: "", ciphertext: "",
               tag: "530f8afbc74536b9a963b4f1c4cb738b"),
        Vector(name: "GCM spec test case 14 (one zero block)",
               key: zeroKey, nonce: "000000000000000000000000",
               plaintext: "00000000000000000000000000000000", aad: "",
               ciphertext: "cea7403d4d606b6e074ec5d3baf39d18",
               tag: "d0d1c8a799996bf0265b98b5d48ab919"),
        Vector(name: "GCM spec test case 15 (64 bytes, no AAD)",
               key: key15, nonce: nonce15,
               plaintext: """
               d9313225f88406e5a55909c5aff5269a86a7a9531534f7da2e4c303d8a318a72
               1c3c0c95956809532fcf0e2449a6b525b16aedf5aa0de657ba637b391aafd255
               """,
               aad: "",
               ciphertext: """
               522dc1f099567d07f47f37a32a84427d643a8cdcbfe5c0c97598a2bd2555d1aa
               8cb08e48590dbb3da7b08b1056828838c5f61e6393ba7a0abcc9f662898015ad
               """,
               tag: "b094dac5d93471bdec1a502270e3cc6c"),
        Vector(name: "GCM spec test case 16 (60 bytes, 20 bytes of AAD)",
               key: key15, nonce: nonce15,
               plaintext: """
               d9313225f88406e5a55909c5aff5269a86a7a9531534f7da2e4c303d8a318a72
               1c3c0c95956809532fcf0e2449a6b525b16aedf5aa0de657ba637b39
               """,
               aad: "feedfacedeadbeeffeedfacedeadbeefabaddad2",
               ciphertext: """
               522dc1f099567d07f47f37a32a84427d643a8cdcbfe5c0c97598a2bd2555d1aa
               8cb08e48590dbb3da7b08b1056828838c5f61e6393ba7a0abcc9f662
               """,
               tag: "76fc6ece0f4e1768cddf8853bb2d551b"),
    ]

    @Test("seal gives the published ciphertext and tag", arguments: vectors)
    func sealMatches(_ v: Vector) throws {
        let key = try SymmetricKey(copying: hexBytes(v.key))
        let sealed = try sealOnce(key: key, nonce: hexBytes(v.nonce), aad: hexBytes(v.aad),
                                  plaintext: hexBytes(v.plaintext))
        #expect(hexString(sealed) == hexString(try hexBytes(v.ciphertext) + hexBytes(v.tag)))
    }

    @Test("open gives the published plaintext", arguments: vectors)
    func openMatches(_ v: Vector) throws {
        let key = try SymmetricKey(copying: hexBytes(v.key))
        let context = try AESGCMContext(key: key, direction: .open)
        let plaintext = try gcmOpen(context, nonce: hexBytes(v.nonce), aad: hexBytes(v.aad),
                                 sealed: hexBytes(v.ciphertext) + hexBytes(v.tag))
        #expect(hexString(plaintext) == hexString(try hexBytes(v.plaintext)))
    }

    @Test("AAD split between aad and aadSuffix at every point authenticates as the concatenation")
    func aadSuffixIsConcatenation() throws {
        let v = Self.vectors[3]
        let key = try SymmetricKey(copying: hexBytes(v.key))
        let aad = try hexBytes(v.aad)
        let expected = try hexBytes(v.ciphertext) + hexBytes(v.tag)
        let sealer = try AESGCMContext(key: key, direction: .seal)
        let opener = try AESGCMContext(key: key, direction: .open)
        for cut in 0...aad.count {
            let head = Array(aad[..<cut]), tail = Array(aad[cut...])
            let sealed = try gcmSeal(sealer, nonce: hexBytes(v.nonce), aad: head, aadSuffix: tail,
                                  plaintext: hexBytes(v.plaintext))
            #expect(sealed == expected, "cut at \(cut)")
            let opened = try gcmOpen(opener, nonce: hexBytes(v.nonce), aad: head, aadSuffix: tail, sealed: expected)
            #expect(opened == (try hexBytes(v.plaintext)), "cut at \(cut)")
        }
    }

    @Test("one context re-armed per message gives every answer in turn, in both directions")
    func contextReuseAcrossMessages() throws {
        // 13 and 14 share a key, 15 and 16 share a key: run each pair twice through one context each way.
        for pair in [[0, 1], [2, 3]] {
            let key = try SymmetricKey(copying: hexBytes(Self.vectors[pair[0]].key))
            let sealer = try AESGCMContext(key: key, direction: .seal)
            let opener = try AESGCMContext(key: key, direction: .open)
            for round in 0..<2 {
                for i in pair + pair.reversed() {
                    let v = Self.vectors[i]
                    let expected = try hexBytes(v.ciphertext) + hexBytes(v.tag)
                    let sealed = try gcmSeal(sealer, nonce: hexBytes(v.nonce), aad: hexBytes(v.aad),
                                          plaintext: hexBytes(v.plaintext))
                    #expect(sealed == expected, "\(v.name), round \(round)")
                    let opened = try gcmOpen(opener, nonce: hexBytes(v.nonce), aad: hexBytes(v.aad), sealed: expected)
                    #expect(opened == (try hexBytes(v.plaintext)), "\(v.name), round \(round)")
                }
            }
        }
    }

    @Test("sealing in place (plaintext and ciphertext the same buffer) gives the published answer")
    func sealInPlace() throws {
        let v = Self.vectors[2]
        let key = try SymmetricKey(copying: hexBytes(v.key))
        let context = try AESGCMContext(key: key, direction: .seal)
        let nonce = try hexBytes(v.nonce)
        var buffer = try hexBytes(v.plaintext) + [UInt8](repeating: 0, count: AESGCM.tagByteCount)
        let length = buffer.count - AESGCM.tagByteCount
        try buffer.withUnsafeMutableBytes { b in
            let base = try #require(b.baseAddress)
            try nonce.withUnsafeBytes { n in
                try context.seal(nonce: n, aad: UnsafeRawBufferPointer(start: nil, count: 0),
                                 plaintext: UnsafeRawBufferPointer(rebasing: b[0..<length]),
                                 ciphertext: base, tag: base + length)
            }
        }
        #expect(buffer == (try hexBytes(v.ciphertext) + hexBytes(v.tag)))
    }

    @Test("wrong nonce and tag lengths are rejected with a typed error")
    func lengthChecks() throws {
        let key = try SymmetricKey(copying: [UInt8](repeating: 7, count: 32))
        let sealer = try AESGCMContext(key: key, direction: .seal)
        let opener = try AESGCMContext(key: key, direction: .open)
        for bad in [0, 8, 11, 13, 16] {
            #expect(throws: CryptoError.invalidLength(what: "nonce", expected: 12, actual: bad)) {
                _ = try gcmSeal(sealer, nonce: [UInt8](repeating: 0, count: bad), aad: [], plaintext: [1, 2, 3])
            }
            #expect(throws: CryptoError.invalidLength(what: "nonce", expected: 12, actual: bad)) {
                _ = try gcmOpen(opener, nonce: [UInt8](repeating: 0, count: bad), aad: [],
                             sealed: [UInt8](repeating: 0, count: 19))
            }
        }
        let sealed = try gcmSeal(sealer, nonce: [UInt8](repeating: 0, count: 12), aad: [], plaintext: [1, 2, 3])
        for badTag in [0, 12, 15, 17] {
            var out = [UInt8](repeating: 0, count: 3)
            let tag = [UInt8](repeating: 0, count: badTag)
            #expect(throws: CryptoError.invalidLength(what: "tag", expected: 16, actual: badTag)) {
                try out.withUnsafeMutableBytes { o in
                    try [UInt8](repeating: 0, count: 12).withUnsafeBytes { n in
                        try sealed.withUnsafeBytes { s in
                            try tag.withUnsafeBytes { t in
                                try opener.open(nonce: n, aad: UnsafeRawBufferPointer(start: nil, count: 0),
                                                ciphertext: UnsafeRawBufferPointer(rebasing: s[0..<3]), tag: t,
                                                plaintext: o.baseAddress)
                            }
                        }
                    }
                }
            }
        }
    }

    @Test("SymmetricKey refuses keys that are not 32 bytes")
    func keyLength() throws {
        for bad in [0, 16, 24, 31, 33, 64] {
            #expect(throws: CryptoError.invalidLength(what: "key", expected: 32, actual: bad)) {
                _ = try SymmetricKey(copying: [UInt8](repeating: 1, count: bad))
            }
        }
        let generated = try SymmetricKey.generate()
        #expect(generated.bytes.count == 32)
    }
}
