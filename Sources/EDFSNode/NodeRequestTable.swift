import EDFSCrypto
import EDFSFormat
import EDFSTransport

/// The requests in flight on one connection and who is logged in; shared by the connection's reader loop and the
/// tasks that serve its requests. The one that removes an id (`finish`) owns sending its final frame.
final class NodeRequestTable: Sendable {
    enum Kind: Sendable {
        /// A PUT receiving DATA frames.
        case upload
        /// A PUT after END, being sealed and renamed.
        case finishing
        /// A GET sending DATA frames within the credit of its allowance.
        case download(AsyncAllowance)
        /// Any single-reply request.
        case control
    }

    private struct State {
        var active: [UInt32: Kind] = [:]
        var user: String?
        var requests = 0
    }

    private let state = PthreadMutex(State())

    var user: String? { state.withLock { $0.user } }
    var count: Int { state.withLock { $0.active.count } }
    var requestCount: Int { state.withLock { $0.requests } }

    func setUser(_ user: String) { state.withLock { $0.user = user } }

    /// Registers a new request.
    func begin(_ id: UInt32, _ kind: Kind) {
        state.withLock {
            $0.active[id] = kind
            $0.requests += 1
        }
    }

    func kind(of id: UInt32) -> Kind? { state.withLock { $0.active[id] } }

    func isActive(_ id: UInt32) -> Bool { state.withLock { $0.active[id] != nil } }

    /// Changes the kind of an active request.
    func update(_ id: UInt32, to kind: Kind) {
        state.withLock { s in
            if s.active[id] != nil { s.active[id] = kind }
        }
    }

    /// Removes a request; true when it was still active (the caller then sends its final frame).
    @discardableResult
    func finish(_ id: UInt32) -> Bool {
        state.withLock { $0.active.removeValue(forKey: id) != nil }
    }

    /// Forgets every request and closes every GET's credit, so their tasks stop.
    func closeAll() {
        let gates = state.withLock { s -> [AsyncAllowance] in
            defer { s.active.removeAll() }
            return s.active.values.compactMap { kind in
                if case let .download(gate) = kind { return gate }
                return nil
            }
        }
        for gate in gates { gate.close() }
    }
}
