/// What a scrub does besides checking every stored file.
public struct ScrubOptions: Sendable, Equatable {
    /// Move each corrupt file into `quarantine/` (never served) instead of only reporting it.
    public var quarantine = false
    /// Remove orphan objects older than this (nil: no garbage collection). See `OrphanCollector`.
    public var orphanGracePeriod: Duration?
    /// Remove temporary files (`.tmp-…`) not written to for this long (nil: leave them to the node's start-up).
    public var temporaryGracePeriod: Duration?

    /// Only checks.
    public init() {}

    /// Checks, quarantines, and collects orphans and temporary files older than `gracePeriod`.
    public static func full(gracePeriod: Duration) -> ScrubOptions {
        var options = ScrubOptions()
        options.quarantine = true
        options.orphanGracePeriod = gracePeriod
        options.temporaryGracePeriod = gracePeriod
        return options
    }

    /// The default grace period: 24 h (docs/STORAGE.md).
    public static let defaultGracePeriod: Duration = .seconds(24 * 3600)
}
