import EDFSClient
import Testing

/// The rules behind `edfs status`'s state word: quorums, corruption and space.
@Suite("Cluster state rules")
struct ClusterStateTests {
    @Test("a node is low on space below 5 % of its disk or 1 GiB, whichever is less")
    func lowOnSpace() {
        let gib: UInt64 = 1 << 30
        #expect(NodeHealth.isLow(free: 16 << 10, total: 32 << 20))
        #expect(!NodeHealth.isLow(free: 2 << 20, total: 32 << 20), "a small disk with its 5 % free is not low")
        #expect(NodeHealth.isLow(free: gib - 1, total: 500 * gib))
        #expect(!NodeHealth.isLow(free: gib, total: 500 * gib), "a large disk needs 1 GiB, not 25 GiB")
        #expect(!NodeHealth.isLow(free: 0, total: 0), "a node that reports no disk size is not judged")
    }

    @Test("one node low on space makes a cluster whose nodes all answer degraded; quorums still decide read-only and down")
    func states() {
        func state(_ reachable: Int, corrupt: Bool = false, low: Bool = false) -> ClusterState {
            ClusterState.of(reachable: reachable, nodes: 4, commitQuorum: 2, readQuorum: 3, corruptionFound: corrupt,
                            lowOnSpace: low)
        }
        #expect(state(4) == .healthy)
        #expect(state(4, low: true) == .degraded)
        #expect(state(4, corrupt: true) == .degraded)
        #expect(state(3, low: true) == .degraded)
        #expect(state(2, low: true) == .down)
        #expect(ClusterState.of(reachable: 2, nodes: 5, commitQuorum: 3, readQuorum: 2, corruptionFound: false,
                                lowOnSpace: true) == .readOnly)
    }
}
