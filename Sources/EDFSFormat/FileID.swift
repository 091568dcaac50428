import EDFSCrypto

/// The 16 random bytes that name one version of one file. Cleartext on nodes: it names the version's
/// stripe objects and lets a node tell live objects from orphans without any key.
public struct FileID: Hashable, Sendable, CustomStringConvertible {
    public static let byteCount = 16
    public let bytes: [UInt8]

    public init(bytes: [UInt8]) throws {
        guard bytes.count == Self.byteCount else { throw FormatError.invalidField("file id", "must be 16 bytes") }
        self.bytes = bytes
    }

    /// A fresh random file id.
    public static func random() throws -> FileID { try FileID(bytes: SecureRandom.bytes(byteCount)) }

    /// Parses 32 lowercase hex digits.
    public init(hex: String) throws {
        guard let bytes = Hex.decode(hex), bytes.count == Self.byteCount else {
            throw FormatError.invalidField("file id", "must be 32 hex digits")
        }
        self.bytes = bytes
    }

    /// 32 lowercase hex digits.
    public var hex: String { Hex.encode(bytes) }
    public var description: String { hex }
}
