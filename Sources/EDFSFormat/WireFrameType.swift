/// The type byte of a frame. Unknown values are representable so that a node can answer them `unsupported`.
public struct WireFrameType: RawRepresentable, Hashable, Sendable, CustomStringConvertible {
    public let rawValue: UInt8
    public init(rawValue: UInt8) { self.rawValue = rawValue }

    public static let hello = WireFrameType(rawValue: 0x01)
    public static let login = WireFrameType(rawValue: 0x02)
    public static let status = WireFrameType(rawValue: 0x03)
    public static let setVerifier = WireFrameType(rawValue: 0x04)
    /// The second SCRAM round trip of a LOGIN (method 2).
    public static let loginContinue = WireFrameType(rawValue: 0x05)
    public static let putObject = WireFrameType(rawValue: 0x10)
    public static let getObject = WireFrameType(rawValue: 0x11)
    public static let statObject = WireFrameType(rawValue: 0x12)
    public static let deleteObject = WireFrameType(rawValue: 0x13)
    public static let list = WireFrameType(rawValue: 0x14)
    public static let putManifest = WireFrameType(rawValue: 0x20)
    public static let getManifest = WireFrameType(rawValue: 0x21)
    public static let deleteManifest = WireFrameType(rawValue: 0x22)
    /// Many manifests in one round trip (a listing fetches every manifest of a user).
    public static let getManifests = WireFrameType(rawValue: 0x23)
    /// Many manifest writes in one round trip, each with its own answer (a put of many files commits them so).
    public static let putManifests = WireFrameType(rawValue: 0x24)
    public static let putKeyslot = WireFrameType(rawValue: 0x28)
    public static let getKeyslot = WireFrameType(rawValue: 0x29)
    public static let getKeyslotHistory = WireFrameType(rawValue: 0x2A)
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
        0x01: "HELLO", 0x02: "LOGIN", 0x03: "STATUS", 0x04: "SET_VERIFIER", 0x05: "LOGIN_CONTINUE", 0x10: "PUT_OBJECT", 0x11: "GET_OBJECT",
        0x12: "STAT_OBJECT", 0x13: "DELETE_OBJECT", 0x14: "LIST", 0x20: "PUT_MANIFEST", 0x21: "GET_MANIFEST",
        0x22: "DELETE_MANIFEST", 0x23: "GET_MANIFESTS", 0x24: "PUT_MANIFESTS", 0x28: "PUT_KEYSLOT", 0x29: "GET_KEYSLOT", 0x2A: "GET_KEYSLOT_HISTORY", 0x40: "DATA", 0x41: "END", 0x42: "WINDOW",
        0x43: "CANCEL", 0xFF: "ERROR",
    ]

    public var description: String {
        if let name = Self.names[rawValue] { return name }
        if rawValue > 0x80, let name = Self.names[rawValue & 0x7F] { return name + "_OK" }
        return "type 0x" + Hex.encode([rawValue])
    }
}
