import EDFSCrypto
import Testing

/// `AESGCM.sealBox` / `openBox`: nonce ‖ ciphertext ‖ tag with a random nonce.
@Suite("AES-GCM boxes")
struct AESGCMBoxTests {
    private func sealBox(_ plaintext: [UInt8], key: SymmetricKey, aad: [UInt8]) throws -> [UInt8] {
        try plaintext.withUnsafeBytes { p in try aad.withUnsafeBytes { a in try AESGCM.sealBox(p, key: key, aad: a) } }
    }

    private func openBox(_ box: [UInt8], key: SymmetricKey, aad: [UInt8]) throws -> [UInt8] {
        try box.withUnsafeBytes { b in
            try aad.withUnsafeBytes { a in try AESGCM.openBox(b, key: key, aad: a).withUnsafeBytes { Array($0) } }
        }
    }

    @Test("round trip for several lengths; the box is nonce ‖ ciphertext ‖ tag", arguments: [0, 1, 15, 16, 17, 64, 1000])
    func roundTrip(length: Int) throws {
        let key = try SymmetricKey.generate()
        let plaintext = patternBytes(length, seed: UInt64(length))
        let aad = Array("edfs keyslot v1".utf8)
        let box = try sealBox(plaintext, key: key, aad: aad)
        #expect(box.count == 12 + length + 16)
        #expect(try openBox(box, key: key, aad: aad) == plaintext)
        // The box is an ordinary GCM message under its own leading nonce.
        let opener = try AESGCMContext(key: key, direction: .open)
        #expect(try gcmOpen(opener, nonce: Array(box[0..<12]), aad: aad, sealed: Array(box[12...])) == plaintext)
    }

    @Test("two boxes of the same plaintext use different nonces")
    func randomNonce() throws {
        let key = try SymmetricKey.generate()
        let a = try sealBox([1, 2, 3], key: key, aad: [])
        let b = try sealBox([1, 2, 3], key: key, aad: [])
        #expect(a[0..<12] != b[0..<12])
        #expect(a != b)
    }

    @Test("wrong key, wrong AAD and any flipped bit fail with authenticationFailed")
    func failures() throws {
        let key = try SymmetricKey.generate()
        let aad = Array("user alice epoch 1".utf8)
        let plaintext = patternBytes(64, seed: 9)
        let box = try sealBox(plaintext, key: key, aad: aad)
        #expect(throws: CryptoError.authenticationFailed) { _ = try openBox(box, key: SymmetricKey.generate(), aad: aad) }
        #expect(throws: CryptoError.authenticationFailed) {
            _ = try openBox(box, key: key, aad: Array("user alice epoch 2".utf8))
        }
        #expect(throws: CryptoError.authenticationFailed) { _ = try openBox(box, key: key, aad: []) }
        for byte in [0, 11, 12, 12 + 63, 12 + 64, box.count - 1] {
            var bad = box
            bad[byte] ^= 0x01
            #expect(throws: CryptoError.authenticationFailed, "byte \(byte)") { _ = try openBox(bad, key: key, aad: aad) }
        }
        #expect(throws: CryptoError.authenticationFailed) { _ = try openBox(Array(box.dropLast()), key: key, aad: aad) }
        #expect(throws: CryptoError.authenticationFailed) { _ = try openBox(box + [0], key: key, aad: aad) }
    }

    @Test("boxes shorter than nonce plus tag fail with authenticationFailed", arguments: [0, 1, 12, 16, 27])
    func shortBox(length: Int) throws {
        let key = try SymmetricKey.generate()
        #expect(throws: CryptoError.authenticationFailed) {
            _ = try openBox([UInt8](repeating: 0, count: length), key: key, aad: [])
        }
    }

    @Test("an empty box of exactly 28 bytes opens to empty plaintext only when genuine")
    func emptyPlaintextBox() throws {
        let key = try SymmetricKey.generate()
        let box = try sealBox([], key: key, aad: [7])
        #expect(box.count == 28)
        #expect(try openBox(box, key: key, aad: [7]).isEmpty)
        #expect(throws: CryptoError.authenticationFailed) { _ = try openBox([UInt8](repeating: 0, count: 28), key: key, aad: [7]) }
    }
}
