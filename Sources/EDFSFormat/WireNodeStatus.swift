/// What STATUS reports.
public struct WireNodeStatus: Equatable, Sendable {
    public var nodeName: String
    public var freeBytes: UInt64
    public var totalBytes: UInt64
    /// The caller's objects and manifests on this node.
    public var objectCount: UInt64
    public var manifestCount: UInt64
    public var uptimeSeconds: UInt64

    public init(nodeName: String, freeBytes: UInt64, totalBytes: UInt64, objectCount: UInt64, manifestCount: UInt64,
                uptimeSeconds: UInt64) {
        self.nodeName = nodeName
        self.freeBytes = freeBytes
        self.totalBytes = totalBytes
        self.objectCount = objectCount
        self.manifestCount = manifestCount
        self.uptimeSeconds = uptimeSeconds
    }
}
