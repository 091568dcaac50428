/// The result of a node's last scrub as STATUS reports it (docs/PROTOCOL.md, 0x03): node-wide totals, not the
/// caller's alone.
public struct WireScrubSummary: Equatable, Sendable, Codable {
    /// When the scrub finished, in seconds since 1970 (UTC); never 0 (0 on the wire means "never scrubbed").
    public var finishedAt: UInt64
    /// Stored files whose every block was read and checked.
    public var filesChecked: UInt64
    /// Files that failed their checksum (or were truncated).
    public var corrupt: UInt64
    /// Orphan objects removed by garbage collection.
    public var orphansReclaimed: UInt64
    /// Bytes on disk those orphans (and stale temporary files) took.
    public var bytesReclaimed: UInt64

    public init(finishedAt: UInt64, filesChecked: UInt64, corrupt: UInt64, orphansReclaimed: UInt64,
                bytesReclaimed: UInt64) {
        self.finishedAt = finishedAt
        self.filesChecked = filesChecked
        self.corrupt = corrupt
        self.orphansReclaimed = orphansReclaimed
        self.bytesReclaimed = bytesReclaimed
    }
}
