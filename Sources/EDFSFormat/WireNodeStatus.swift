/// What STATUS reports.
public struct WireNodeStatus: Equatable, Sendable, Codable {
    public var nodeName: String
    public var freeBytes: UInt64
    public var totalBytes: UInt64
    /// The caller's objects and manifests on this node.
    public var objectCount: UInt64
    public var manifestCount: UInt64
    public var uptimeSeconds: UInt64
    /// The node's software version (`SoftwareVersion.text`), at most `maxVersionBytes` bytes of UTF-8.
    public var softwareVersion: String
    /// Bytes on disk of the caller's objects and manifests (footers included).
    public var storedBytes: UInt64
    /// The node's last scrub, nil when it has not scrubbed since it started.
    public var lastScrub: WireScrubSummary?

    /// Longest version text a STATUS reply may carry.
    public static let maxVersionBytes = 64

    public init(nodeName: String, freeBytes: UInt64, totalBytes: UInt64, objectCount: UInt64, manifestCount: UInt64,
                uptimeSeconds: UInt64, softwareVersion: String = SoftwareVersion.text, storedBytes: UInt64 = 0,
                lastScrub: WireScrubSummary? = nil) {
        self.nodeName = nodeName
        self.freeBytes = freeBytes
        self.totalBytes = totalBytes
        self.objectCount = objectCount
        self.manifestCount = manifestCount
        self.uptimeSeconds = uptimeSeconds
        self.softwareVersion = softwareVersion
        self.storedBytes = storedBytes
        self.lastScrub = lastScrub
    }
}
