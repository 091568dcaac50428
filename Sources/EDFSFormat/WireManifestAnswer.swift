/// A node's answer for one id of a GET_MANIFESTS.
public enum WireManifestAnswer: Equatable, Sendable {
    /// The node holds no manifest under the id.
    case absent
    /// The stored manifest bytes (unauthenticated: the client opens them).
    case manifest([UInt8])
    /// The node holds one but cannot read it (its checksum fails, or it is quarantined).
    case unreadable

    /// Bytes this answer takes in a GET_MANIFESTS_OK payload.
    public var encodedLength: Int {
        if case let .manifest(bytes) = self { return 5 + bytes.count }
        return 1
    }
}

/// One manifest write of a PUT_MANIFESTS: what a PUT_MANIFEST carries.
public struct WireManifestWrite: Equatable, Sendable {
    public var id: String
    public var bytes: [UInt8]

    public init(id: String, bytes: [UInt8]) {
        self.id = id
        self.bytes = bytes
    }
}
