/// Constants of the edfs wire protocol (docs/PROTOCOL.md).
public enum WireProtocol {
    /// The protocol versions this build speaks, newest last.
    public static let supportedVersions: [UInt16] = [1]
    /// The magic that opens a HELLO payload.
    public static let magic: [UInt8] = Array("EDFS".utf8)
    /// Bytes of a frame header: u32 length, u8 type, u8 flags, u32 request id.
    public static let headerLength = 10
    /// Bytes of a header that the length field counts (type, flags, request id).
    public static let lengthCountedHeaderBytes = 6
    /// Largest DATA payload anyone sends (1 MiB writes measured best through NIOSSL).
    public static let maxDataPayload = 1 << 20
    /// Default largest frame length (the length field's value) a node accepts.
    public static let defaultMaxFrameLength = (1 << 20) + (64 << 10)
    /// Largest manifest or keyslot a node stores.
    public static let maxMetadataLength = 1 << 20
    /// Most entries one LIST page may ask for.
    public static let maxListLimit = 1000
    /// A GET length meaning "to the end of the object".
    public static let toEnd = UInt64.max
    /// Longest client name in a HELLO, and longest ERROR message a node sends.
    public static let maxClientNameLength = 64
    public static let maxErrorMessageLength = 512
}

/// The type byte of a frame. Unknown values are representable so that a node can answer them `unsupported`.
public struct WireFrameType: RawRepresentable, Hashable, Sendable, CustomStringConvertible {
    public let rawValue: UInt8
    public init(rawValue: UInt8) { self.rawValue = rawValue }

    public static let hello = WireFrameType(rawValue: 0x01)
    public static let login = WireFrameType(rawValue: 0x02)
    public static let status = WireFrameType(rawValue: 0x03)
    public static let setVerifier = WireFrameType(rawValue: 0x04)
    public static let putObject = WireFrameType(rawValue: 0x10)
    public static let getObject = WireFrameType(rawValue: 0x11)
    public static let statObject = WireFrameType(rawValue: 0x12)
    public static let deleteObject = WireFrameType(rawValue: 0x13)
    public static let list = WireFrameType(rawValue: 0x14)
    public static let putManifest = WireFrameType(rawValue: 0x20)
    public static let getManifest = WireFrameType(rawValue: 0x21)
    public static let deleteManifest = WireFrameType(rawValue: 0x22)
    public static let putKeyslot = WireFrameType(rawValue: 0x28)
    public static let getKeyslot = WireFrameType(rawValue: 0x29)
    public static let data = WireFrameType(rawValue: 0x40)
    public static let end = WireFrameType(rawValue: 0x41)
    public static let window = WireFrameType(rawValue: 0x42)
    public static let cancel = WireFrameType(rawValue: 0x43)
    public static let error = WireFrameType(rawValue: 0xFF)

    /// The reply type of a request type (`type | 0x80`).
    public var reply: WireFrameType { WireFrameType(rawValue: rawValue | 0x80) }
    /// True for the four stream frame types (DATA, END, WINDOW, CANCEL).
    public var isStream: Bool { rawValue >= 0x40 && rawValue <= 0x43 }
    /// True for a reply to a request (0x81…0xFE).
    public var isReply: Bool { rawValue > 0x80 && rawValue != 0xFF }

    private static let names: [UInt8: String] = [
        0x01: "HELLO", 0x02: "LOGIN", 0x03: "STATUS", 0x04: "SET_VERIFIER", 0x10: "PUT_OBJECT", 0x11: "GET_OBJECT",
        0x12: "STAT_OBJECT", 0x13: "DELETE_OBJECT", 0x14: "LIST", 0x20: "PUT_MANIFEST", 0x21: "GET_MANIFEST",
        0x22: "DELETE_MANIFEST", 0x28: "PUT_KEYSLOT", 0x29: "GET_KEYSLOT", 0x40: "DATA", 0x41: "END", 0x42: "WINDOW",
        0x43: "CANCEL", 0xFF: "ERROR",
    ]

    public var description: String {
        if let name = Self.names[rawValue] { return name }
        if rawValue > 0x80, let name = Self.names[rawValue & 0x7F] { return name + "_OK" }
        return "type 0x" + Hex.encode([rawValue])
    }
}

/// Flag bits of a frame.
public struct WireFlags: OptionSet, Hashable, Sendable {
    public let rawValue: UInt8
    public init(rawValue: UInt8) { self.rawValue = rawValue }
    /// On an ERROR frame: the node closes the connection after it.
    public static let fatal = WireFlags(rawValue: 0x01)
}

/// The fixed 10-byte header of every frame.
public struct WireFrameHeader: Equatable, Sendable {
    public var type: WireFrameType
    public var flags: WireFlags
    public var requestID: UInt32
    /// Bytes of payload after the header.
    public var payloadLength: Int

    public init(type: WireFrameType, flags: WireFlags = [], requestID: UInt32, payloadLength: Int) {
        self.type = type
        self.flags = flags
        self.requestID = requestID
        self.payloadLength = payloadLength
    }

    /// The value of the length field: payload plus type, flags and request id.
    public var lengthField: Int { payloadLength + WireProtocol.lengthCountedHeaderBytes }

    /// The 10 header bytes. The payload length must fit the u32 length field.
    public var encoded: [UInt8] {
        var writer = WireWriter(capacity: WireProtocol.headerLength)
        writer.u32(UInt32(truncatingIfNeeded: lengthField))
        writer.u8(type.rawValue)
        writer.u8(flags.rawValue)
        writer.u32(requestID)
        return writer.bytes
    }

    /// Writes the 10 header bytes into `buffer` (at least 10 bytes long).
    public func encode(into buffer: UnsafeMutableRawBufferPointer) {
        precondition(buffer.count >= WireProtocol.headerLength, "frame header needs 10 bytes")
        let length = UInt32(truncatingIfNeeded: lengthField)
        buffer.storeBytes(of: length.bigEndian, toByteOffset: 0, as: UInt32.self)
        buffer[4] = type.rawValue
        buffer[5] = flags.rawValue
        buffer.storeBytes(of: requestID.bigEndian, toByteOffset: 6, as: UInt32.self)
    }

    /// The value of a frame's length field, from its first four bytes; nil when fewer are given.
    public static func peekLengthField(_ bytes: UnsafeRawBufferPointer) -> UInt32? {
        guard bytes.count >= 4 else { return nil }
        return UInt32(bytes[0]) << 24 | UInt32(bytes[1]) << 16 | UInt32(bytes[2]) << 8 | UInt32(bytes[3])
    }

    /// Decodes a header from the first 10 bytes of `bytes`, refusing a length field over `maxLengthField`
    /// (`too large`), under 6 or with unknown flag bits (`malformed`). Returns nil when fewer than 10 bytes are given
    /// but the length so far is acceptable.
    public static func decode(_ bytes: UnsafeRawBufferPointer, maxLengthField: Int) throws(WireError) -> WireFrameHeader? {
        guard let length = peekLengthField(bytes) else { return nil }
        guard Int(length) <= maxLengthField else {
            throw WireError(.tooLarge, "frame length \(length) is over the limit of \(maxLengthField)", fatal: true)
        }
        guard Int(length) >= WireProtocol.lengthCountedHeaderBytes else {
            throw WireError(.malformed, "frame length \(length) is shorter than a header", fatal: true)
        }
        guard bytes.count >= WireProtocol.headerLength else { return nil }
        let flags = WireFlags(rawValue: bytes[5])
        guard flags.subtracting(.fatal).isEmpty else {
            throw WireError(.malformed, "unknown frame flags 0x\(Hex.encode([bytes[5]]))", fatal: true)
        }
        let requestID = UInt32(bytes[6]) << 24 | UInt32(bytes[7]) << 16 | UInt32(bytes[8]) << 8 | UInt32(bytes[9])
        return WireFrameHeader(type: WireFrameType(rawValue: bytes[4]), flags: flags, requestID: requestID,
                               payloadLength: Int(length) - WireProtocol.lengthCountedHeaderBytes)
    }
}
