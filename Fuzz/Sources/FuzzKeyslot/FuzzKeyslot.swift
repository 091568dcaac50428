import EDFSCrypto
import EDFSFormat

/// The golden vectors' keyslot KEKs (Tests/EDFSFormatTests/Vectors/README.md), derived once at start-up so that no
/// PBKDF2 runs per input: kind 1 = PBKDF2(password, salt 0xc0…0xcf, 1000), kind 2 = HMAC of that with the label.
let keks: [KeyslotKDF.Kind: SymmetricKey] = {
    let password = SecureBytes(copying: Array("correct horse battery staple".utf8))
    let salt = (0xc0...0xcf).map { UInt8($0) }
    var result: [KeyslotKDF.Kind: SymmetricKey] = [:]
    for kind in [KeyslotKDF.Kind.pbkdf2, .scramLinked] {
        result[kind] = try! KeyslotKDF(kind: kind, iterations: 1000, salt: salt).deriveKEK(password: password)
    }
    return result
}()

/// The keyslot decoder: `Keyslot.decode`, then unlock as `alice` (and as a user the AAD does not name) under the fixed
/// KEK of the slot's KDF kind. The seeds good_keyslot*.bin unlock.
@_cdecl("LLVMFuzzerTestOneInput")
public func fuzzKeyslot(_ data: UnsafePointer<UInt8>, _ size: Int) -> CInt {
    let bytes = Array(UnsafeBufferPointer(start: data, count: size))
    _ = try? KeyslotHeader.decode(prefixOf: bytes)
    guard let slot = try? Keyslot.decode(bytes), let kek = keks[slot.header.kdf.kind] else { return 0 }
    _ = slot.header.keyslotLength
    _ = slot.header.supersedes(slot.header)
    for user in ["alice", "bob"] {
        if let bundles = try? slot.unlock(user: user, kek: kek) {
            if bundles.count != Int(slot.header.bundleCount) { fatalError("bundle count differs from the header") }
        }
    }
    return 0
}
