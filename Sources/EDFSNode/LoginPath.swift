import EDFSFormat
import EDFSTransport
import NIOCore

/// The LOGIN request of one session and its deadline: checks the proof with the node's `LoginGuard` (which
/// throttles failures per user and peer) and records the user in the session's table.
struct LoginPath: Sendable {
    let services: NodeServices
    let table: NodeRequestTable
    /// The peer's IP address (no port): the key of login throttling.
    let peer: String

    /// The answer to LOGIN request `id`; on success the session is logged in as `user`.
    func login(id: UInt32, method: UInt8, user: String, proof: String) async -> WireFrame {
        guard table.user == nil else { return .error(WireError(.conflict, "already logged in"), requestID: id) }
        guard method == WireRequest.loginMethodMD5 else {
            return .error(WireError(.unsupported, "login method \(method) is not supported"), requestID: id)
        }
        switch await services.loginGuard.attempt(user: user, proof: proof, peer: peer) {
        case .success:
            table.setUser(user)
            return SessionOutput.frame(.login, id)
        case let .failure(error, failures):
            services.logger.warning("failed login for user \(WireName.quoted(user)) from \(peer) (\(failures) in a row)")
            return .error(error, requestID: id)
        }
    }

    /// Arms the login timeout: unless someone logged in by then, the connection gets a FATAL `timeout` and closes.
    func armTimeout(on channel: any Channel) -> ConnectionDeadline {
        let timeout = services.limits.loginTimeout
        let table = self.table
        return ConnectionDeadline(on: channel, after: timeout) {
            guard table.user == nil else { return }
            SessionOutput.writeLast(.error(WireError(.timeout, "no login within \(timeout)", fatal: true), requestID: 0),
                                    on: channel).whenComplete { _ in channel.close(promise: nil) }
        }
    }
}
