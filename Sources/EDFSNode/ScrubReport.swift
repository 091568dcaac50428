import EDFSFormat

/// What one scrub found and did (docs/STORAGE.md, "Scrubbing, quarantine and garbage collection"). Paths are
/// relative to the data folder.
public struct ScrubReport: Equatable, Sendable, Codable {
    /// When the scrub started, seconds since 1970 (UTC).
    public var startedAt: Double = 0
    /// How long it took, in seconds.
    public var durationSeconds: Double = 0
    /// Stored files read and checked block by block (objects, manifests, keyslots, keyslot history entries).
    public var filesChecked = 0
    /// Data bytes of the files that checked out.
    public var bytesChecked: UInt64 = 0
    /// Files whose footer or a block failed its checksum, or that were shorter than their footer says.
    public var corrupt: [String] = []
    /// Where each corrupt file was moved, inside `quarantine/` (empty when quarantining was off).
    public var quarantined: [String] = []
    /// Orphan objects removed (no manifest on this node names their file id, older than the grace period).
    public var orphansReclaimed: [String] = []
    /// Bytes on disk the removed orphans took.
    public var orphanBytes: UInt64 = 0
    /// Temporary files older than the grace period that were removed.
    public var temporariesReclaimed = 0
    /// Bytes on disk those temporary files took.
    public var temporaryBytes: UInt64 = 0
    /// Users whose garbage collection was skipped, and why (for example a manifest whose header does not decode:
    /// the objects it names cannot be known, so none of that user's objects is removed).
    public var collectionSkipped: [String] = []
    /// True when the scrub stopped early (the node was shutting down); the counts cover what was done.
    public var interrupted = false

    public init() {}

    /// Bytes returned to the file system: orphans and temporary files.
    public var bytesReclaimed: UInt64 { orphanBytes + temporaryBytes }

    /// True when no file failed its checksum.
    public var isClean: Bool { corrupt.isEmpty }

    /// The summary STATUS carries.
    public var summary: WireScrubSummary {
        WireScrubSummary(finishedAt: max(1, UInt64(max(0, startedAt + durationSeconds))),
                         filesChecked: UInt64(filesChecked), corrupt: UInt64(corrupt.count),
                         orphansReclaimed: UInt64(orphansReclaimed.count), bytesReclaimed: bytesReclaimed)
    }
}
