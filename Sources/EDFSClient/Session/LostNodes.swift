import EDFSCrypto

/// Nodes a session stopped talking to after it logged in: one that missed a request's deadline or whose connection
/// broke. Later requests of the same command skip them at once instead of waiting out the deadline again (a put paid
/// it three times: uploads, the re-read before the commit, the commit).
final class LostNodes: Sendable {
    private let nodes = PthreadMutex(Set<Int>())

    var all: Set<Int> { nodes.withLock { $0 } }

    func contains(_ node: Int) -> Bool { nodes.withLock { $0.contains(node) } }

    /// Marks `node` lost when `error` says the node is gone (deadline, broken connection), not when it refused.
    func note(_ node: Int, _ error: any Error) {
        guard Self.meansGone(error) else { return }
        nodes.withLock { _ = $0.insert(node) }
    }

    static func meansGone(_ error: any Error) -> Bool {
        switch error {
        case NodeLinkError.unreachable: return true
        case NodeConnectionError.closed, NodeConnectionError.connectFailed: return true
        default: return false
        }
    }
}
