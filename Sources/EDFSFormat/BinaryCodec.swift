import EDFSCrypto

/// Appends big-endian integers and byte strings to a growing buffer.
public struct BinaryWriter {
    public private(set) var bytes: [UInt8]

    public init(capacity: Int = 64) {
        bytes = []
        bytes.reserveCapacity(capacity)
    }

    public mutating func u8(_ value: UInt8) { bytes.append(value) }
    public mutating func u16(_ value: UInt16) { append(value.bigEndian) }
    public mutating func u32(_ value: UInt32) { append(value.bigEndian) }
    public mutating func u64(_ value: UInt64) { append(value.bigEndian) }
    public mutating func i64(_ value: Int64) { append(value.bigEndian) }
    public mutating func raw(_ data: some Sequence<UInt8>) { bytes.append(contentsOf: data) }
    public mutating func zeros(_ count: Int) { bytes.append(contentsOf: repeatElement(0, count: count)) }

    /// Overwrites the written bytes in place (for buffers that held a key) and empties the writer.
    public mutating func wipe() {
        secureWipe(&bytes)
        bytes.removeAll()
    }

    /// A UTF-8 string behind a u16 byte count.
    public mutating func string16(_ text: String) {
        let utf8 = Array(text.utf8)
        precondition(utf8.count <= Int(UInt16.max), "string too long for a u16 length")
        u16(UInt16(utf8.count))
        raw(utf8)
    }

    private mutating func append<T: FixedWidthInteger>(_ value: T) {
        withUnsafeBytes(of: value) { bytes.append(contentsOf: $0) }
    }
}

/// Reads big-endian integers and byte strings, throwing `FormatError.truncated` past the end.
public struct BinaryReader {
    private let bytes: [UInt8]
    public private(set) var offset: Int
    /// Names the structure in errors ("manifest", "keyslot", …).
    public let context: String

    public init(_ bytes: [UInt8], context: String) {
        self.bytes = bytes
        self.offset = 0
        self.context = context
    }

    public var remaining: Int { bytes.count - offset }

    public mutating func u8() throws -> UInt8 { try integer() }
    public mutating func u16() throws -> UInt16 { try integer() }
    public mutating func u32() throws -> UInt32 { try integer() }
    public mutating func u64() throws -> UInt64 { try integer() }
    public mutating func i64() throws -> Int64 { try integer() }

    public mutating func raw(_ count: Int) throws -> [UInt8] {
        guard count >= 0, count <= remaining else { throw FormatError.truncated(context) }
        defer { offset += count }
        return Array(bytes[offset..<(offset + count)])
    }

    /// Skips `count` bytes that must be zero (reserved fields).
    public mutating func reserved(_ count: Int) throws {
        let value = try raw(count)
        guard value.allSatisfy({ $0 == 0 }) else { throw FormatError.invalidField("\(context) reserved bytes", "must be zero") }
    }

    /// A UTF-8 string behind a u16 byte count, at most `maxBytes` long.
    public mutating func string16(maxBytes: Int, field: String) throws -> String {
        let count = Int(try u16())
        guard count <= maxBytes else { throw FormatError.invalidField(field, "is longer than \(maxBytes) bytes") }
        let utf8 = try raw(count)
        guard let text = String(validating: utf8, as: UTF8.self) else {
            throw FormatError.invalidField(field, "is not valid UTF-8")
        }
        return text
    }

    /// Throws unless every byte was consumed.
    public func expectEnd() throws {
        guard remaining == 0 else { throw FormatError.trailingBytes(context) }
    }

    private mutating func integer<T: FixedWidthInteger>() throws -> T {
        let size = MemoryLayout<T>.size
        guard size <= remaining else { throw FormatError.truncated(context) }
        var value = T.zero
        for index in offset..<(offset + size) { value = value << 8 | T(bytes[index]) }
        offset += size
        return value
    }
}
