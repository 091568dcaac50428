/// Appends big-endian integers and length-prefixed strings to a byte array.
public struct WireWriter: Sendable {
    public private(set) var bytes: [UInt8]

    public init(capacity: Int = 64) {
        bytes = []
        bytes.reserveCapacity(capacity)
    }

    public mutating func u8(_ value: UInt8) { bytes.append(value) }
    public mutating func u16(_ value: UInt16) { append(value) }
    public mutating func u32(_ value: UInt32) { append(value) }
    public mutating func u64(_ value: UInt64) { append(value) }
    public mutating func raw(_ data: some Sequence<UInt8>) { bytes.append(contentsOf: data) }

    /// Appends a u16 byte count and the UTF-8 bytes; throws when the string is longer than 65535 bytes.
    public mutating func str16(_ value: String, field: String) throws(WireError) {
        let utf8 = Array(value.utf8)
        guard utf8.count <= Int(UInt16.max) else {
            throw WireError(.tooLarge, "\(field) is longer than 65535 bytes")
        }
        u16(UInt16(utf8.count))
        bytes.append(contentsOf: utf8)
    }

    /// Appends a str16 of at most `maxBytes` bytes, cutting the string at a character boundary.
    public mutating func str16(truncating value: String, maxBytes: Int) {
        var utf8 = Array(value.utf8)
        if utf8.count > maxBytes {
            var cut = maxBytes
            while cut > 0, utf8[cut] & 0xC0 == 0x80 { cut -= 1 }  // don't split a UTF-8 sequence
            utf8 = Array(utf8[..<cut])
        }
        u16(UInt16(utf8.count))
        bytes.append(contentsOf: utf8)
    }

    private mutating func append<T: FixedWidthInteger>(_ value: T) {
        var big = value.bigEndian
        withUnsafeBytes(of: &big) { bytes.append(contentsOf: $0) }
    }
}

/// Reads big-endian integers and length-prefixed strings from a frame payload; every failure is `malformed`.
public struct WireReader: Sendable {
    private let bytes: [UInt8]
    private var index = 0
    /// What is being decoded, for error messages.
    private let what: String

    public init(_ bytes: [UInt8], what: String) {
        self.bytes = bytes
        self.what = what
    }

    public var remaining: Int { bytes.count - index }

    public mutating func u8() throws(WireError) -> UInt8 { UInt8(try integer(1)) }
    public mutating func u16() throws(WireError) -> UInt16 { UInt16(try integer(2)) }
    public mutating func u32() throws(WireError) -> UInt32 { UInt32(try integer(4)) }
    public mutating func u64() throws(WireError) -> UInt64 { try integer(8) }

    /// A u16-length-prefixed string, which must be valid UTF-8.
    public mutating func str16() throws(WireError) -> String {
        let count = Int(try u16())
        let utf8 = try take(count)
        guard let string = String(validating: utf8, as: UTF8.self) else {
            throw WireError(.malformed, "\(what) holds a string that is not UTF-8", fatal: true)
        }
        return string
    }

    /// Exactly `count` bytes.
    public mutating func take(_ count: Int) throws(WireError) -> [UInt8] {
        guard count >= 0, remaining >= count else { throw truncated() }
        defer { index += count }
        return Array(bytes[index..<(index + count)])
    }

    /// Every byte that is left.
    public mutating func rest() -> [UInt8] {
        defer { index = bytes.count }
        return Array(bytes[index...])
    }

    /// Throws unless every byte was consumed.
    public func finish() throws(WireError) {
        guard remaining == 0 else {
            throw WireError(.malformed, "\(what) has \(remaining) trailing bytes", fatal: true)
        }
    }

    private mutating func integer(_ size: Int) throws(WireError) -> UInt64 {
        guard remaining >= size else { throw truncated() }
        var value: UInt64 = 0
        for offset in 0..<size { value = value << 8 | UInt64(bytes[index + offset]) }
        index += size
        return value
    }

    private func truncated() -> WireError { WireError(.malformed, "\(what) payload is truncated", fatal: true) }
}
