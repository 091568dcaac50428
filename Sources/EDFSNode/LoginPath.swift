import EDFSCrypto
import EDFSFormat
import EDFSTransport
import NIOCore

/// The LOGIN and LOGIN_CONTINUE requests of one session and its deadline: checks the proof with the node's
/// `LoginGuard` (which throttles failures per user, per peer and per address) and records the user in the
/// session's table. A SCRAM login (method 2) keeps its state here between its two round trips.
struct LoginPath: Sendable {
    let services: NodeServices
    let table: NodeRequestTable
    /// The peer's IP address (no port): the key of login throttling.
    let peer: String
    /// The SCRAM exchange under way on this connection, if any.
    let pending = PendingSCRAM()

    /// Holds one connection's SCRAM state between LOGIN and LOGIN_CONTINUE.
    final class PendingSCRAM: Sendable {
        let state = PthreadMutex<LoginGuard.SCRAMState?>(nil)
    }

    /// The answer to LOGIN request `id`; on success the session is logged in as `user` (method 1), or a SCRAM
    /// exchange starts (method 2: the reply carries the server-first-message).
    func login(id: UInt32, method: UInt8, user: String, proof: String) async -> WireFrame {
        guard table.user == nil else { return .error(WireError(.conflict, "already logged in"), requestID: id) }
        pending.state.withLock { $0 = nil }  // a new LOGIN abandons an unfinished exchange
        switch method {
        case WireRequest.loginMethodMD5:
            switch await services.loginGuard.attempt(user: user, proof: proof, peer: peer) {
            case .success:
                table.setUser(user)
                return SessionOutput.frame(.login, id)
            case let .failure(error, failures):
                logFailure(user, failures, error)
                return .error(error, requestID: id)
            }
        case WireRequest.loginMethodSCRAM:
            switch await services.loginGuard.scramStart(user: user, clientFirst: Array(proof.utf8), peer: peer,
                                                        certificateHash: services.certificateHash) {
            case let .challenge(state):
                pending.state.withLock { $0 = state }
                return SessionOutput.frame(.loginChallenge(serverFirst: state.serverFirst.message), id)
            case let .refused(error):
                if error.code != .useLegacyLogin { logFailure(user, nil, error) }
                return .error(error, requestID: id)
            }
        default:
            return .error(WireError(.unsupported, "login method \(method) is not supported (1 = MD5, 2 = SCRAM-SHA-256)"),
                          requestID: id)
        }
    }

    /// The answer to LOGIN_CONTINUE request `id`: the server-final-message, after which the session is logged in.
    func loginContinue(id: UInt32, message: String) async -> WireFrame {
        guard table.user == nil else { return .error(WireError(.conflict, "already logged in"), requestID: id) }
        guard let state = pending.state.withLock({ state -> LoginGuard.SCRAMState? in
            defer { state = nil }  // one try per challenge
            return state
        }) else {
            return .error(WireError(.malformed, "LOGIN_CONTINUE without a SCRAM LOGIN before it"), requestID: id)
        }
        switch await services.loginGuard.scramFinish(state, clientFinal: Array(message.utf8), peer: peer) {
        case let .success(serverFinal):
            table.setUser(state.user)
            return SessionOutput.frame(.loginContinue(serverFinal: serverFinal), id)
        case let .failure(error):
            logFailure(state.user, nil, error)
            return .error(error, requestID: id)
        }
    }

    private func logFailure(_ user: String, _ failures: Int?, _ error: WireError) {
        services.metrics.loginFailed(error.code)
        let count = failures.map { " (\($0) in a row)" } ?? ""
        services.logger.warning("failed login for user \(WireName.quoted(user)) from \(peer)\(count): \(error.code)")
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
