/// Standard base64 (RFC 4648 §4, with `=` padding), strict: decoding refuses anything but the canonical
/// encoding (wrong length, characters outside the alphabet, misplaced padding, non-zero padding bits).
public enum Base64 {
    private static let alphabet = Array("ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/".utf8)

    /// The canonical encoding of `bytes`.
    public static func encode(_ bytes: some Collection<UInt8>) -> String {
        let input = Array(bytes)
        var out = [UInt8]()
        out.reserveCapacity((input.count + 2) / 3 * 4)
        var index = 0
        while index < input.count {
            let b0 = input[index]
            let b1 = index + 1 < input.count ? input[index + 1] : 0
            let b2 = index + 2 < input.count ? input[index + 2] : 0
            out.append(alphabet[Int(b0 >> 2)])
            out.append(alphabet[Int((b0 & 0x03) << 4 | b1 >> 4)])
            out.append(index + 1 < input.count ? alphabet[Int((b1 & 0x0F) << 2 | b2 >> 6)] : UInt8(ascii: "="))
            out.append(index + 2 < input.count ? alphabet[Int(b2 & 0x3F)] : UInt8(ascii: "="))
            index += 3
        }
        return String(decoding: out, as: UTF8.self)
    }

    private static func value(_ c: UInt8) -> UInt8? {
        switch c {
        case UInt8(ascii: "A")...UInt8(ascii: "Z"): return c - UInt8(ascii: "A")
        case UInt8(ascii: "a")...UInt8(ascii: "z"): return c - UInt8(ascii: "a") + 26
        case UInt8(ascii: "0")...UInt8(ascii: "9"): return c - UInt8(ascii: "0") + 52
        case UInt8(ascii: "+"): return 62
        case UInt8(ascii: "/"): return 63
        default: return nil
        }
    }

    /// The bytes of a canonical encoding, or nil when `text` is not one.
    public static func decode(_ text: some Collection<UInt8>) -> [UInt8]? {
        let input = Array(text)
        guard input.count % 4 == 0 else { return nil }
        var out = [UInt8]()
        out.reserveCapacity(input.count / 4 * 3)
        var index = 0
        while index < input.count {
            let last = index + 4 == input.count
            let c2Pad = input[index + 2] == UInt8(ascii: "=")
            let c3Pad = input[index + 3] == UInt8(ascii: "=")
            guard let v0 = value(input[index]), let v1 = value(input[index + 1]) else { return nil }
            if c2Pad {
                // "xx==": one byte; only in the last group, and the unused bits must be zero.
                guard last, c3Pad, v1 & 0x0F == 0 else { return nil }
                out.append(v0 << 2 | v1 >> 4)
            } else if c3Pad {
                guard last, let v2 = value(input[index + 2]), v2 & 0x03 == 0 else { return nil }
                out.append(v0 << 2 | v1 >> 4)
                out.append((v1 & 0x0F) << 4 | v2 >> 2)
            } else {
                guard let v2 = value(input[index + 2]), let v3 = value(input[index + 3]) else { return nil }
                out.append(v0 << 2 | v1 >> 4)
                out.append((v1 & 0x0F) << 4 | v2 >> 2)
                out.append((v2 & 0x03) << 6 | v3)
            }
            index += 4
        }
        return out
    }

    /// `decode` of a string's UTF-8.
    public static func decode(_ text: String) -> [UInt8]? { decode(Array(text.utf8)) }
}
