import EDFSFormat

/// One node's line of `edfs status`: where it is, whether it answered, and what its STATUS said.
public struct NodeHealth: Sendable, Codable, Equatable {
    /// The config's name of the node.
    public var name: String
    /// The config's `HOST:PORT` of the node.
    public var address: String
    /// Whether the node was logged in to and answered STATUS.
    public var reachable: Bool
    /// Why not, in a few words (nil when reachable).
    public var reason: String?
    /// The node's STATUS reply (nil when unreachable).
    public var status: WireNodeStatus?

    public init(name: String, address: String, reachable: Bool, reason: String? = nil, status: WireNodeStatus? = nil) {
        self.name = name
        self.address = address
        self.reachable = reachable
        self.reason = reason
        self.status = status
    }

    /// True when the node's last scrub found corrupt files.
    public var scrubFoundCorruption: Bool { (status?.lastScrub?.corrupt ?? 0) > 0 }

    /// True when the node answered with less free space than `isLow(free:total:)` allows: puts may fail there.
    public var lowOnSpace: Bool { status.map { Self.isLow(free: $0.freeBytes, total: $0.totalBytes) } ?? false }

    /// Free space below 5 % of the disk or below 1 GiB, whichever is less (a small disk is not low while it has
    /// its 5 %).
    public static func isLow(free: UInt64, total: UInt64) -> Bool {
        free < min(1 << 30, total / 20)
    }

    /// A short reason for a failed login or STATUS, without library internals.
    static func reason(for error: any Error) -> String {
        switch error {
        case let link as NodeLinkError:
            switch link {
            case .authenticationFailed: return "login refused"
            case .throttled: return "login throttled"
            case let .unreachable(text) where text.contains("no answer within"): return "no answer within the deadline"
            case .unreachable: return "unreachable"
            case let .refused(code, _): return "refused: \(code)"
            case .notFound, .stale, .checksumMismatch: return "refused the request"
            }
        case let connection as NodeConnectionError:
            switch connection {
            case let .connectFailed(_, reason):
                let lower = reason.lowercased()
                if lower.contains("refused") { return "connection refused" }
                if lower.contains("timed out") || lower.contains("timeout") { return "connection timed out" }
                if lower.contains("unreachable") { return "network unreachable" }
                if lower.contains("resolve") || lower.contains("lookup") { return "host name not found" }
                return "cannot connect"
            case .tlsFailed: return "TLS handshake failed"
            case .closed: return "connection closed"
            case .protocolViolation: return "protocol error"
            case .invalidRequest: return "cannot connect"
            case .trust: return "cluster CA cannot be used"
            }
        default:
            return "cannot connect"
        }
    }
}
