import EDFSCrypto

/// The 16 bytes that name a file's manifest on the nodes: HMAC-SHA256(nameKey, "edfs-name-v1" ‖ 0 ‖ path),
/// truncated. Without the name key a node cannot tell which path it stands for.
public struct ManifestID: Hashable, Sendable, CustomStringConvertible {
    public static let byteCount = 16
    public let bytes: [UInt8]

    public init(bytes: [UInt8]) throws {
        guard bytes.count == Self.byteCount else { throw FormatError.invalidField("manifest id", "must be 16 bytes") }
        self.bytes = bytes
    }

    public init(hex: String) throws {
        guard let bytes = Hex.decode(hex), bytes.count == Self.byteCount else {
            throw FormatError.invalidField("manifest id", "must be 32 hex digits")
        }
        self.bytes = bytes
    }

    /// The id of `path` under `nameKey`.
    public static func derive(path: String, nameKey: SymmetricKey) -> ManifestID {
        var message = Array("edfs-name-v1".utf8)
        message.append(0)
        message.append(contentsOf: path.utf8)
        let mac = Digest.hmacSHA256(key: nameKey, message)
        // 16 bytes of a 32-byte MAC: exactly byteCount, so the throwing init cannot fail here.
        return ManifestID(validated: Array(mac[0..<byteCount]))
    }

    private init(validated bytes: [UInt8]) { self.bytes = bytes }

    /// 32 lowercase hex digits: the manifest's name on a node.
    public var hex: String { Hex.encode(bytes) }
    public var description: String { hex }
}
