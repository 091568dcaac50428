import EDFSFormat

/// Space for new data as one user sees it: every reachable node's STATUS over a session's links, divided by the
/// replica count (each byte is stored R times). What `statfs` of a mount reports.
public struct ClusterSpace: Sendable, Equatable {
    /// Sum of the answering nodes' file-system sizes, divided by R.
    public var totalBytes: UInt64
    /// Sum of the answering nodes' free bytes, divided by R.
    public var freeBytes: UInt64
    /// Nodes that answered STATUS.
    public var nodesAnswered: Int

    /// Asks every reachable node of `session` for STATUS at once (each under the request deadline).
    public static func gather(_ session: ClusterSession) async -> ClusterSpace {
        let answers = await session.fanOut.run { _, link in try await link.status() }.values
        let replicas = UInt64(max(1, session.config.placement.replicas))
        let total = answers.reduce(UInt64(0)) { $0 &+ $1.value.totalBytes }
        let free = answers.reduce(UInt64(0)) { $0 &+ $1.value.freeBytes }
        return ClusterSpace(totalBytes: total / replicas, freeBytes: free / replicas, nodesAnswered: answers.count)
    }
}
