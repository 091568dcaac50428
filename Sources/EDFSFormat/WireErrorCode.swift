/// The numeric code of an ERROR frame (docs/PROTOCOL.md, "Error codes"). Unknown codes from newer nodes are kept.
public struct WireErrorCode: RawRepresentable, Hashable, Sendable, CustomStringConvertible {
    public let rawValue: UInt16
    public init(rawValue: UInt16) { self.rawValue = rawValue }

    public static let malformed = WireErrorCode(rawValue: 1)
    public static let unsupported = WireErrorCode(rawValue: 2)
    public static let tooLarge = WireErrorCode(rawValue: 3)
    public static let notAuthenticated = WireErrorCode(rawValue: 4)
    public static let authenticationFailed = WireErrorCode(rawValue: 5)
    public static let throttled = WireErrorCode(rawValue: 6)
    public static let invalidName = WireErrorCode(rawValue: 7)
    public static let notFound = WireErrorCode(rawValue: 8)
    public static let conflict = WireErrorCode(rawValue: 9)
    public static let staleVersion = WireErrorCode(rawValue: 10)
    public static let checksumMismatch = WireErrorCode(rawValue: 11)
    public static let lengthMismatch = WireErrorCode(rawValue: 12)
    public static let storageFull = WireErrorCode(rawValue: 13)
    public static let ioError = WireErrorCode(rawValue: 14)
    public static let limitExceeded = WireErrorCode(rawValue: 15)
    public static let `internal` = WireErrorCode(rawValue: 16)
    public static let timeout = WireErrorCode(rawValue: 17)
    /// A SCRAM LOGIN for a user whose only verifier on this node is a legacy MD5 digest (the client may fall back).
    public static let useLegacyLogin = WireErrorCode(rawValue: 20)

    private static let names: [UInt16: String] = [
        1: "malformed", 2: "unsupported", 3: "too large", 4: "not authenticated", 5: "authentication failed",
        6: "throttled", 7: "invalid name", 8: "not found", 9: "conflict", 10: "stale version",
        11: "checksum mismatch", 12: "length mismatch", 13: "storage full", 14: "I/O error", 15: "limit exceeded",
        16: "internal error", 17: "timeout", 20: "use legacy login",
    ]

    public var description: String { Self.names[rawValue] ?? "error \(rawValue)" }
}
