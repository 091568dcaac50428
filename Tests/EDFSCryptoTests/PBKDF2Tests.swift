import EDFSCrypto
import Testing

/// PBKDF2-HMAC-SHA256 known answers from RFC 7914 §11, plus parameter checks.
@Suite("PBKDF2-HMAC-SHA256")
struct PBKDF2Tests {
    private func derive(_ password: String, _ salt: String, _ iterations: UInt32, _ length: Int) throws -> [UInt8] {
        let key = try PBKDF2.deriveKey(password: SecureBytes(copying: Array(password.utf8)), salt: Array(salt.utf8),
                                       iterations: iterations, length: length)
        return key.withUnsafeBytes { Array($0) }
    }

    @Test("RFC 7914 §11: P=\"passwd\", S=\"salt\", c=1, dkLen=64")
    func rfc7914Vector1() throws {
        let expected = try hexBytes("""
            55 ac 04 6e 56 e3 08 9f ec 16 91 c2 25 44 b6 05
            f9 41 85 21 6d de 04 65 e6 8b 9d 57 c2 0d ac bc
            49 ca 9c cc f1 79 b6 45 99 16 64 b3 9d 77 ef 31
            7c 71 b8 45 b1 e3 0b d5 09 11 20 41 d3 a1 97 83
            """)
        #expect(hexString(try derive("passwd", "salt", 1, 64)) == hexString(expected))
    }

    @Test("RFC 7914 §11: P=\"Password\", S=\"NaCl\", c=80000, dkLen=64")
    func rfc7914Vector2() throws {
        let expected = try hexBytes("""
            4d dc d8 f6 0b 98 be 21 83 0c ee 5e f2 27 01 f9
            64 1a 44 18 d0 4c 04 14 ae ff 08 87 6b 34 ab 56
            a1 d4 25 a1 22 58 33 54 9a db 84 1b 51 c9 b3 17
            6a 27 2b de bb a1 d0 78 47 8f 62 b3 97 f3 3c 8d
            """)
        #expect(hexString(try derive("Password", "NaCl", 80000, 64)) == hexString(expected))
    }

    @Test("the default length is 32 bytes: the first block of the 64-byte answer")
    func defaultLength() throws {
        let key = try PBKDF2.deriveKey(password: SecureBytes(copying: Array("passwd".utf8)), salt: Array("salt".utf8),
                                       iterations: 1)
        #expect(key.count == SymmetricKey.byteCount)
        #expect(key.withUnsafeBytes { Array($0) } == Array(try derive("passwd", "salt", 1, 64).prefix(32)))
        #expect(try SymmetricKey(key).bytes.count == 32)
    }

    @Test("empty password and empty salt derive the value Python's hashlib gives")
    func emptyInputs() throws {
        // hashlib.pbkdf2_hmac("sha256", b"", b"", 1, 32)
        let expected = try hexBytes("f7ce0b653d2d72a4108cf5abe912ffdd777616dbbb27a70e8204f3ae2d0f6fad")
        let key = try PBKDF2.deriveKey(password: SecureBytes(copying: []), salt: [], iterations: 1)
        #expect(key.withUnsafeBytes { hexString($0) } == hexString(expected))
    }

    @Test("password, salt and iteration count each change the key")
    func inputsMatter() throws {
        let base = try derive("passwd", "salt", 2, 32)
        #expect(try derive("passwe", "salt", 2, 32) != base)
        #expect(try derive("passwd", "salu", 2, 32) != base)
        #expect(try derive("passwd", "salt", 3, 32) != base)
        #expect(try derive("passwd", "salt", 2, 32) == base)
    }

    @Test("out-of-range iteration counts and lengths are refused", arguments: [
        (UInt32(0), 32), (UInt32(1) << 31, 32), (UInt32.max, 32), (UInt32(1), 0), (UInt32(1), -1), (UInt32(1), 1025),
    ])
    func parameterChecks(iterations: UInt32, length: Int) throws {
        #expect(throws: CryptoError.self) {
            _ = try PBKDF2.deriveKey(password: SecureBytes(copying: Array("pw".utf8)), salt: [1, 2, 3],
                                     iterations: iterations, length: length)
        }
    }

    @Test("the largest accepted length works")
    func largestLength() throws {
        #expect(try derive("pw", "salt", 1, 1024).count == 1024)
    }
}
