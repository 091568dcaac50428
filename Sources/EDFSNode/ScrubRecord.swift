import EDFSCrypto

/// The result of a running node's last scrub, kept for STATUS (nil until the first scrub finishes).
final class ScrubRecord: Sendable {
    private let last = PthreadMutex<(report: ScrubReport?, count: Int)>((nil, 0))

    /// The last scrub's report.
    var report: ScrubReport? { last.withLock { $0.report } }

    /// How many scrubs have finished.
    var count: Int { last.withLock { $0.count } }

    func record(_ report: ScrubReport) { last.withLock { $0 = (report, $0.count + 1) } }
}
