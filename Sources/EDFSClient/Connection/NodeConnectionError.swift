import EDFSFormat

/// Why a connection to a node failed or ended, as opposed to the node refusing one request (`NodeLinkError`).
public enum NodeConnectionError: Error, Equatable, Sendable, CustomStringConvertible {
    /// TCP could not connect (refused, unreachable, timed out).
    case connectFailed(node: String, reason: String)
    /// The TLS handshake failed: untrusted certificate, wrong host name, no TLS 1.3, not a TLS peer.
    case tlsFailed(node: String, reason: String)
    /// The connection ended (the node closed it, or the network failed); `reason` includes the node's FATAL error.
    case closed(node: String, reason: String)
    /// The node broke the protocol (docs/PROTOCOL.md); the connection was closed.
    case protocolViolation(node: String, reason: String)
    /// The caller asked for something the protocol cannot carry (more bytes than announced, a string too long).
    case invalidRequest(String)
    /// A CA file could not be loaded.
    case trust(String)

    public var description: String {
        switch self {
        case let .connectFailed(node, reason): return "cannot connect to \(node): \(reason)"
        case let .tlsFailed(node, reason): return "TLS handshake with \(node) failed: \(reason)"
        case let .closed(node, reason): return "connection to \(node) closed: \(reason)"
        case let .protocolViolation(node, reason): return "\(node) broke the protocol: \(reason)"
        case let .invalidRequest(why): return why
        case let .trust(why): return "cluster CA: \(why)"
        }
    }
}
