/// The cluster's health in one word a script can test (docs/CLI.md, `edfs status`).
public enum ClusterState: String, Sendable, Codable, CaseIterable {
    /// Every node reachable, no scrub found corruption and no node low on space.
    case healthy
    /// Reads and writes work (at least max(commitQuorum, readQuorum) nodes reachable), but a node is unreachable,
    /// a scrub found corruption or a node is low on space.
    case degraded
    /// At least readQuorum but fewer than commitQuorum nodes reachable: reads work, commits do not.
    case readOnly = "read-only"
    /// Fewer than readQuorum nodes reachable.
    case down

    /// The state of a cluster with `reachable` of its nodes reachable, given its quorums, whether any reachable
    /// node's last scrub found corruption and whether any is low on space (`NodeHealth.isLow`).
    public static func of(reachable: Int, nodes: Int, commitQuorum: Int, readQuorum: Int,
                          corruptionFound: Bool, lowOnSpace: Bool = false) -> ClusterState {
        if reachable < readQuorum { return .down }
        if reachable < commitQuorum { return .readOnly }
        return reachable == nodes && !corruptionFound && !lowOnSpace ? .healthy : .degraded
    }

    /// The exit code of `edfs status` in this state: 0 healthy, 3 degraded or read-only, 69 down.
    public var exitCode: Int32 {
        switch self {
        case .healthy: return 0
        case .degraded, .readOnly: return ExitStatus.degraded
        case .down: return ExitStatus.unavailable
        }
    }
}
