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
        var writer = BigEndianWriter<WireError>(capacity: WireProtocol.headerLength)
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
            // Four letters where a length should be: someone speaks another protocol (an HTTPS probe sends "GET ").
            let lead = bytes.prefix(4)
            if lead.allSatisfy({ (0x41...0x5A).contains($0) || $0 == 0x20 || $0 == 0x2F }) {
                let text = String(decoding: lead, as: UTF8.self)
                throw WireError(.malformed, "not an edfs client: it sent \"\(text)\" (HTTP or another text protocol) "
                                + "where a frame was expected", fatal: true)
            }
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
