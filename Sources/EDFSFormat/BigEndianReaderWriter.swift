import EDFSCrypto

/// What a `BigEndianReader` or `BigEndianWriter` reports when bytes do not fit, in the error type of the layer
/// that uses it: `FormatError` for the at-rest formats, `WireError` (`malformed`, FATAL) for frame payloads.
public protocol BigEndianCodingError: Error {
    /// The input ended inside `context`.
    static func endOfInput(_ context: String) -> Self
    /// `count` bytes were left after `context`.
    static func leftoverBytes(_ context: String, count: Int) -> Self
    /// Reserved bytes of `context` were not zero.
    static func reservedNotZero(_ context: String) -> Self
    /// The string `field` is longer than `maxBytes` bytes.
    static func stringTooLong(_ field: String, maxBytes: Int) -> Self
    /// The string `field` is not valid UTF-8.
    static func notUTF8(_ field: String) -> Self
}

/// Appends big-endian integers and byte strings to a growing buffer; `Failure` is the error of a string too long.
public struct BigEndianWriter<Failure: BigEndianCodingError>: Sendable {
    public private(set) var bytes: [UInt8]

    public init(capacity: Int = 64) {
        bytes = []
        bytes.reserveCapacity(capacity)
    }

    public mutating func u8(_ value: UInt8) { bytes.append(value) }
    public mutating func u16(_ value: UInt16) { append(value) }
    public mutating func u32(_ value: UInt32) { append(value) }
    public mutating func u64(_ value: UInt64) { append(value) }
    public mutating func i64(_ value: Int64) { append(value) }
    public mutating func raw(_ data: some Sequence<UInt8>) { bytes.append(contentsOf: data) }
    public mutating func zeros(_ count: Int) { bytes.append(contentsOf: repeatElement(0, count: count)) }

    /// A UTF-8 string behind a u16 byte count; throws when it is longer than 65535 bytes.
    public mutating func str16(_ text: String, field: String) throws(Failure) {
        let utf8 = Array(text.utf8)
        guard utf8.count <= Int(UInt16.max) else { throw .stringTooLong(field, maxBytes: Int(UInt16.max)) }
        u16(UInt16(utf8.count))
        bytes.append(contentsOf: utf8)
    }

    /// A str16 of at most `maxBytes` bytes, cutting the string at a character boundary.
    public mutating func str16(truncating text: String, maxBytes: Int) {
        var utf8 = Array(text.utf8)
        if utf8.count > maxBytes {
            var cut = maxBytes
            while cut > 0, utf8[cut] & 0xC0 == 0x80 { cut -= 1 }  // don't split a UTF-8 sequence
            utf8 = Array(utf8[..<cut])
        }
        u16(UInt16(utf8.count))
        bytes.append(contentsOf: utf8)
    }

    /// Overwrites the written bytes in place (for buffers that held a key) and empties the writer.
    public mutating func wipe() {
        secureWipe(&bytes)
        bytes.removeAll()
    }

    private mutating func append<T: FixedWidthInteger>(_ value: T) {
        withUnsafeBytes(of: value.bigEndian) { bytes.append(contentsOf: $0) }
    }
}

/// Reads big-endian integers and byte strings, throwing `Failure` past the end or on a bad value.
public struct BigEndianReader<Failure: BigEndianCodingError>: Sendable {
    private let bytes: [UInt8]
    public private(set) var offset: Int
    /// Names the structure in errors ("manifest header", "LOGIN", …).
    public let context: String

    public init(_ bytes: [UInt8], context: String) {
        self.bytes = bytes
        self.offset = 0
        self.context = context
    }

    public var remaining: Int { bytes.count - offset }

    public mutating func u8() throws(Failure) -> UInt8 { try integer() }
    public mutating func u16() throws(Failure) -> UInt16 { try integer() }
    public mutating func u32() throws(Failure) -> UInt32 { try integer() }
    public mutating func u64() throws(Failure) -> UInt64 { try integer() }
    public mutating func i64() throws(Failure) -> Int64 { try integer() }

    /// Exactly `count` bytes.
    public mutating func raw(_ count: Int) throws(Failure) -> [UInt8] {
        guard count >= 0, count <= remaining else { throw .endOfInput(context) }
        defer { offset += count }
        return Array(bytes[offset..<(offset + count)])
    }

    /// Every byte that is left.
    public mutating func rest() -> [UInt8] {
        defer { offset = bytes.count }
        return Array(bytes[offset...])
    }

    /// Skips `count` bytes that must be zero (reserved fields).
    public mutating func reserved(_ count: Int) throws(Failure) {
        let value = try raw(count)
        guard value.allSatisfy({ $0 == 0 }) else { throw .reservedNotZero(context) }
    }

    /// A UTF-8 string behind a u16 byte count; errors name the structure.
    public mutating func str16() throws(Failure) -> String {
        try str16(maxBytes: Int(UInt16.max), field: context)
    }

    /// A UTF-8 string behind a u16 byte count, at most `maxBytes` long; errors name `field`.
    public mutating func str16(maxBytes: Int, field: String) throws(Failure) -> String {
        let count = Int(try u16())
        guard count <= maxBytes else { throw .stringTooLong(field, maxBytes: maxBytes) }
        let utf8 = try raw(count)
        guard let text = String(validating: utf8, as: UTF8.self) else { throw .notUTF8(field) }
        return text
    }

    /// Throws unless every byte was consumed.
    public func expectEnd() throws(Failure) {
        guard remaining == 0 else { throw .leftoverBytes(context, count: remaining) }
    }

    private mutating func integer<T: FixedWidthInteger>() throws(Failure) -> T {
        let size = MemoryLayout<T>.size
        guard size <= remaining else { throw .endOfInput(context) }
        var value = T.zero
        for index in offset..<(offset + size) { value = value << 8 | T(bytes[index]) }
        offset += size
        return value
    }
}
