import EDFSCrypto
import Testing

/// MD5 (RFC 1321 appendix A.5), SHA-256 (FIPS 180-2 appendix B) and HMAC-SHA256 (RFC 4231) known answers.
@Suite("Digests and HMAC")
struct DigestTests {
    static let md5Suite: [(String, String)] = [
        ("", "d41d8cd98f00b204e9800998ecf8427e"),
        ("a", "0cc175b9c0f1b6a831c399e269772661"),
        ("abc", "900150983cd24fb0d6963f7d28e17f72"),
        ("message digest", "f96b697d7cb7938d525a2f31aaf161d0"),
        ("abcdefghijklmnopqrstuvwxyz", "c3fcd3d76192e4007dfb496cca67e13b"),
        ("ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789", "d174ab98d277d9f5a5611c2c9f419d9f"),
        ("12345678901234567890123456789012345678901234567890123456789012345678901234567890",
         "57edf4a22be3c955ac49da2e2107b67a"),
    ]

    @Test("MD5: the seven messages of RFC 1321 appendix A.5", arguments: md5Suite)
    func md5(message: String, digest: String) throws {
        #expect(hexString(Digest.md5(message)) == digest)
        #expect(hexString(Digest.md5(Array(message.utf8))) == digest)
    }

    static let sha256Suite: [(String, String)] = [
        ("abc", "ba7816bf8f01cfea414140de5dae2223b00361a396177a9cb410ff61f20015ad"),
        ("", "e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855"),
        ("abcdbcdecdefdefgefghfghighijhijkijkljklmklmnlmnomnopnopq",
         "248d6a61d20638b8e5c026930c3e6039a33ce45964ff2167f6ecedd419db06c1"),
    ]

    @Test("SHA-256: FIPS 180-2 \"abc\", the empty message and the 448-bit message", arguments: sha256Suite)
    func sha256(message: String, digest: String) throws {
        #expect(hexString(Digest.sha256(message)) == digest)
        #expect(hexString(Digest.sha256(Array(message.utf8))) == digest)
    }

    @Test("every byte-view type hashes the same bytes, including empty ones with no base address")
    func inputViewsAgree() throws {
        let bytes = Array("xxabcxx".utf8)
        let middle = bytes[2..<5]  // "abc" at a non-zero start index
        let expected = try hexBytes("ba7816bf8f01cfea414140de5dae2223b00361a396177a9cb410ff61f20015ad")
        #expect(Digest.sha256(middle) == expected)
        #expect(middle.withUnsafeBytes { Digest.sha256($0) } == expected)
        #expect(Digest.sha256("abc") == expected)
        let empty = try hexBytes("e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855")
        #expect(Digest.sha256([UInt8]()) == empty)
        #expect(Digest.sha256(UnsafeRawBufferPointer(start: nil, count: 0)) == empty)
        #expect(Digest.sha256(bytes[3..<3]) == empty)
        #expect(hexString(Digest.md5(UnsafeRawBufferPointer(start: nil, count: 0))) == "d41d8cd98f00b204e9800998ecf8427e")
    }

    struct HMACVector: Sendable, CustomTestStringConvertible {
        let name: String
        let key: [UInt8]
        let data: [UInt8]
        /// The RFC's output; test case 5 gives only its first 16 bytes.
        let mac: String
        var testDescription: String { name }
    }

    static let rfc4231: [HMACVector] = [
        HMACVector(name: "RFC 4231 test case 1", key: [UInt8](repeating: 0x0b, count: 20), data: Array("Hi There".utf8),
                   mac: "b0344c61d8db38535ca8afceaf0bf12b881dc200c9833da726e9376c2e32cff7"),
        HMACVector(name: "RFC 4231 test case 2", key: Array("Jefe".utf8), data: Array("what do ya want for nothing?".utf8),
                   mac: "5bdcc146bf60754e6a042426089575c75a003f089d2739839dec58b964ec3843"),
        HMACVector(name: "RFC 4231 test case 3", key: [UInt8](repeating: 0xaa, count: 20),
                   data: [UInt8](repeating: 0xdd, count: 50),
                   mac: "773ea91e36800e46854db8ebd09181a72959098b3ef8c122d9635514ced565fe"),
        HMACVector(name: "RFC 4231 test case 4", key: Array(1...25), data: [UInt8](repeating: 0xcd, count: 50),
                   mac: "82558a389a443c0ea4cc819899f2083a85f0faa3e578f8077a2e3ff46729665b"),
        HMACVector(name: "RFC 4231 test case 5 (truncated to 128 bits)", key: [UInt8](repeating: 0x0c, count: 20),
                   data: Array("Test With Truncation".utf8), mac: "a3b6167473100ee06e0c796c2955552b"),
        HMACVector(name: "RFC 4231 test case 6", key: [UInt8](repeating: 0xaa, count: 131),
                   data: Array("Test Using Larger Than Block-Size Key - Hash Key First".utf8),
                   mac: "60e431591ee0b67f0d8a26aacbf5b77f8e0bc6213728c5140546040f0ee37f54"),
        HMACVector(name: "RFC 4231 test case 7", key: [UInt8](repeating: 0xaa, count: 131),
                   data: Array(("This is a test using a larger than block-size key and a larger than block-size data. "
                                + "The key needs to be hashed before being used by the HMAC algorithm.").utf8),
                   mac: "9b09ffa71b942fcb27635fbcd5b0e944bfdc63644f0713938a7f51535c3a35e2"),
    ]

    @Test("HMAC-SHA256: RFC 4231 test cases 1–7", arguments: rfc4231)
    func hmac(_ v: HMACVector) throws {
        let mac = v.key.withUnsafeBytes { Digest.hmacSHA256(key: $0, v.data) }
        #expect(mac.count == 32)
        let expected = try hexBytes(v.mac)
        #expect(hexString(mac.prefix(expected.count)) == v.mac)
    }

    @Test("HMAC-SHA256 under a SymmetricKey equals HMAC under its raw bytes")
    func hmacWithSymmetricKey() throws {
        let raw = Array(UInt8(0)..<32)
        let key = try SymmetricKey(copying: raw)
        let viaKey = Digest.hmacSHA256(key: key, "some/path/name")
        let viaRaw = raw.withUnsafeBytes { Digest.hmacSHA256(key: $0, "some/path/name") }
        #expect(viaKey == viaRaw)
        #expect(viaKey != raw.withUnsafeBytes { Digest.hmacSHA256(key: $0, "some/path/namf") })
    }

    @Test("HMAC-SHA256 with an empty key and empty message equals Python's hmac module")
    func hmacEmpty() throws {
        // hmac.new(b"", b"", "sha256").hexdigest()
        let expected = "b613679a0814d9ec772f95d778c35fc5ff1697c493715653c6c712144292c5ad"
        #expect(hexString(Digest.hmacSHA256(key: UnsafeRawBufferPointer(start: nil, count: 0), [UInt8]())) == expected)
        #expect(hexString([UInt8]().withUnsafeBytes { Digest.hmacSHA256(key: $0, "") }) == expected)
    }
}
