import EDFSFormat

/// The SCRAM message parsers (EDFSFormat/SCRAMMessages.swift) and the stored-verifier parser. The first byte picks
/// the parser; the rest is the message. Whatever parses must re-encode to exactly the bytes it came from (the
/// parsers are strict: canonical base64, fixed attribute order), except the verifier, which is compared by value.
@_cdecl("LLVMFuzzerTestOneInput")
public func fuzzSCRAM(_ data: UnsafePointer<UInt8>, _ size: Int) -> CInt {
    let all = Array(UnsafeBufferPointer(start: data, count: size))
    guard let selector = all.first else { return 0 }
    let bytes = Array(all.dropFirst())
    switch selector % 5 {
    case 0:
        if let message = try? SCRAMClientFirst.parse(bytes) {
            _ = message.message
            _ = message.channelBinding.bindingInput(data: [1, 2, 3])
        }
    case 1:
        // The nonce the client sent: a fixed one, and the message's own prefix (so the combined-nonce rule passes).
        _ = try? SCRAMServerFirst.parse(bytes, clientNonce: "fyko+d2lbbFgONRv9qkxdawL")
        if let comma = bytes.firstIndex(of: UInt8(ascii: ",")), comma > 10 {
            let prefix = String(decoding: bytes[2..<min(comma, 10)], as: UTF8.self)
            if let message = try? SCRAMServerFirst.parse(bytes, clientNonce: prefix) { _ = message.message }
        }
    case 2:
        if let message = try? SCRAMClientFinal.parse(bytes) { _ = message.message; _ = message.withoutProof }
    case 3:
        if let message = try? SCRAMServerFinal.parse(bytes) { _ = message.message }
    default:
        let text = String(decoding: bytes, as: UTF8.self)
        _ = SCRAMVerifier.looksLikeVerifier(text)
        if let verifier = try? SCRAMVerifier.parse(text) { _ = verifier.description }
    }
    return 0
}
