/// A protocol-level error: what an ERROR frame carries, and what decoding a bad frame throws.
public struct WireError: Error, Equatable, Sendable, CustomStringConvertible {
    public var code: WireErrorCode
    /// Human-readable detail; never contains a secret.
    public var message: String
    /// The connection is (to be) closed after this error.
    public var fatal: Bool

    public init(_ code: WireErrorCode, _ message: String, fatal: Bool = false) {
        self.code = code
        self.message = message
        self.fatal = fatal
    }

    public var description: String { message.isEmpty ? code.description : "\(code): \(message)" }

    /// The ERROR frame payload: u16 code, str16 message (cut to the protocol's longest message).
    public var encodedPayload: [UInt8] {
        var writer = BigEndianWriter<WireError>(capacity: 4 + message.utf8.count)
        writer.u16(code.rawValue)
        writer.str16(truncating: message, maxBytes: WireProtocol.maxErrorMessageLength)
        return writer.bytes
    }

    /// Decodes an ERROR frame's payload; `flags` say whether it was FATAL.
    public static func decode(payload: [UInt8], flags: WireFlags) throws(WireError) -> WireError {
        var reader = BigEndianReader<WireError>(payload, context: "ERROR")
        let code = try reader.u16()
        let message = try reader.str16()
        try reader.expectEnd()
        return WireError(WireErrorCode(rawValue: code), message, fatal: flags.contains(.fatal))
    }
}

/// Every decoding failure of a frame payload is FATAL `malformed`; a string too long to encode is `too large`.
extension WireError: BigEndianCodingError {
    public static func endOfInput(_ context: String) -> WireError {
        WireError(.malformed, "\(context) payload is truncated", fatal: true)
    }
    public static func leftoverBytes(_ context: String, count: Int) -> WireError {
        WireError(.malformed, "\(context) has \(count) trailing bytes", fatal: true)
    }
    public static func reservedNotZero(_ context: String) -> WireError {
        WireError(.malformed, "\(context) has non-zero reserved bytes", fatal: true)
    }
    public static func stringTooLong(_ field: String, maxBytes: Int) -> WireError {
        WireError(.tooLarge, "\(field) is longer than \(maxBytes) bytes")
    }
    public static func notUTF8(_ field: String) -> WireError {
        WireError(.malformed, "\(field) holds a string that is not UTF-8", fatal: true)
    }
}
