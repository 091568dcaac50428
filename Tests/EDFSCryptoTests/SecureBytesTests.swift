import EDFSCrypto
import Testing

/// `SecureBytes`, `ConstantTime` and `SecureRandom`.
@Suite("SecureBytes, constant-time comparison, random")
struct SecureBytesTests {
    private func contents(_ s: SecureBytes) -> [UInt8] { s.withUnsafeBytes { Array($0) } }

    @Test("init starts zeroed, lets the initializer fill, and keeps the count")
    func initializer() throws {
        var sawZeros = false
        let s = SecureBytes(count: 5) { buffer in
            sawZeros = buffer.allSatisfy { $0 == 0 } && buffer.count == 5
            for i in 0..<5 { buffer[i] = UInt8(10 + i) }
        }
        #expect(sawZeros)
        #expect(s.count == 5)
        #expect(contents(s) == [10, 11, 12, 13, 14])
        let empty = SecureBytes(count: 0) { #expect($0.count == 0) }
        #expect(empty.count == 0 && contents(empty).isEmpty)
    }

    @Test("a throwing initializer rethrows its error")
    func throwingInitializer() {
        #expect(throws: CryptoError.invalidParameter("test")) {
            _ = try SecureBytes(count: 8) { _ in throw CryptoError.invalidParameter("test") }
        }
    }

    @Test("copying copies from arrays, slices and raw buffers")
    func copying() {
        let raw: [UInt8] = [1, 2, 3, 4, 5, 6]
        #expect(contents(SecureBytes(copying: raw)) == raw)
        #expect(contents(SecureBytes(copying: raw[2..<5])) == [3, 4, 5])
        #expect(raw.withUnsafeBytes { contents(SecureBytes(copying: $0)) } == raw)
        #expect(SecureBytes(copying: [UInt8]()).count == 0)
    }

    @Test("slice copies exactly the subrange, including empty and whole ranges")
    func slice() {
        let s = SecureBytes(copying: Array(UInt8(0)..<40))
        #expect(contents(s.slice(0..<32)) == Array(0..<32))
        #expect(contents(s.slice(32..<40)) == Array(32..<40))
        #expect(contents(s.slice(7..<8)) == [7])
        #expect(s.slice(40..<40).count == 0)
        #expect(s.slice(0..<0).count == 0)
        #expect(contents(s.slice(0..<40)) == Array(0..<40))
        // A slice is an independent copy: the source still holds all its bytes.
        #expect(contents(s) == Array(0..<40))
    }

    @Test("constantTimeEquals: equal, one bit different, different lengths, empty")
    func constantTimeEquals() {
        let a = SecureBytes(copying: patternBytes(32, seed: 5))
        let same = SecureBytes(copying: patternBytes(32, seed: 5))
        #expect(a.constantTimeEquals(same))
        #expect(a.constantTimeEquals(a))
        for byte in [0, 15, 31] {
            var bytes = patternBytes(32, seed: 5)
            bytes[byte] ^= 0x40
            #expect(!a.constantTimeEquals(SecureBytes(copying: bytes)), "byte \(byte)")
        }
        #expect(!a.constantTimeEquals(SecureBytes(copying: patternBytes(31, seed: 5))))
        #expect(!a.constantTimeEquals(SecureBytes(copying: patternBytes(32, seed: 5) + [0])))
        #expect(!a.constantTimeEquals(SecureBytes(copying: [UInt8]())))
        #expect(SecureBytes(copying: [UInt8]()).constantTimeEquals(SecureBytes(copying: [UInt8]())))
    }

    @Test("random bytes have the asked length and differ between calls")
    func random() throws {
        let a = try SecureBytes.random(count: 32)
        let b = try SecureBytes.random(count: 32)
        #expect(a.count == 32 && b.count == 32)
        #expect(!a.constantTimeEquals(b))
        #expect(contents(a) != [UInt8](repeating: 0, count: 32))
        #expect(try SecureBytes.random(count: 0).count == 0)
        let x = try SecureRandom.bytes(16), y = try SecureRandom.bytes(16)
        #expect(x.count == 16 && x != y)
        #expect(try SecureRandom.bytes(0).isEmpty)
        // A larger buffer is filled throughout (no zero run left at the end).
        let big = try SecureRandom.bytes(4096)
        #expect(big.suffix(64).contains { $0 != 0 })
        #expect(Set(big).count > 200)
    }

    @Test("ConstantTime.equals on arrays: equal, different, different lengths, empty")
    func constantTimeArrays() {
        #expect(ConstantTime.equals([1, 2, 3], [1, 2, 3]))
        #expect(!ConstantTime.equals([1, 2, 3], [1, 2, 4]))
        #expect(!ConstantTime.equals([0, 2, 3], [1, 2, 3]))
        #expect(!ConstantTime.equals([1, 2, 3], [1, 2]))
        #expect(!ConstantTime.equals([1, 2], [1, 2, 3]))
        #expect(ConstantTime.equals([], []))
        #expect(!ConstantTime.equals([], [0]))
        #expect(!ConstantTime.equals([0], []))
        let long = patternBytes(1000, seed: 6)
        var changed = long
        changed[999] ^= 1
        #expect(ConstantTime.equals(long, patternBytes(1000, seed: 6)))
        #expect(!ConstantTime.equals(long, changed))
    }

    @Test("ConstantTime.equals on raw buffers, including empty ones without a base address")
    func constantTimeRaw() {
        let none = UnsafeRawBufferPointer(start: nil, count: 0)
        #expect(ConstantTime.equals(none, none))
        [UInt8]().withUnsafeBytes { #expect(ConstantTime.equals($0, none)) }
        [UInt8(9)].withUnsafeBytes { #expect(!ConstantTime.equals($0, none)) }
        let bytes: [UInt8] = [1, 2, 3, 1, 2, 3]
        bytes.withUnsafeBytes { all in
            #expect(ConstantTime.equals(UnsafeRawBufferPointer(rebasing: all[0..<3]),
                                        UnsafeRawBufferPointer(rebasing: all[3..<6])))
            #expect(!ConstantTime.equals(UnsafeRawBufferPointer(rebasing: all[0..<3]),
                                         UnsafeRawBufferPointer(rebasing: all[1..<4])))
        }
    }

    @Test("SymmetricKey wraps 32 secret bytes and shares them without copying")
    func symmetricKey() throws {
        let bytes = SecureBytes(copying: Array(UInt8(100)..<132))
        let key = try SymmetricKey(bytes)
        #expect(key.bytes === bytes)
        #expect(key.withUnsafeBytes { Array($0) } == Array(100..<132))
        #expect(throws: CryptoError.invalidLength(what: "key", expected: 32, actual: 33)) {
            _ = try SymmetricKey(SecureBytes(copying: [UInt8](repeating: 0, count: 33)))
        }
    }
}
