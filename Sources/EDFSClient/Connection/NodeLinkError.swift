import EDFSFormat
import NIOCore

/// How a node refused an operation, in the terms the pipelines act on.
public enum NodeLinkError: Error, Equatable, Sendable, CustomStringConvertible {
    case notFound
    case stale
    case checksumMismatch
    case authenticationFailed(String)
    case throttled(String)
    case refused(WireErrorCode, String)
    case unreachable(String)

    public var description: String {
        switch self {
        case .notFound: return "not found"
        case .stale: return "stale version"
        case .checksumMismatch: return "checksum mismatch"
        case let .authenticationFailed(text): return "login refused\(text.isEmpty ? "" : ": \(text)")"
        case let .throttled(text): return "login throttled\(text.isEmpty ? "" : ": \(text)")"
        case let .refused(code, text):
            // A node's own text often starts with the code's words ("storage full: write object: …"): said once.
            return text.isEmpty ? code.description : text.hasPrefix(code.description) ? text : "\(code): \(text)"
        case let .unreachable(text): return text
        }
    }

    /// The link error for a node's ERROR frame.
    public init(_ error: WireError) {
        switch error.code {
        case .notFound: self = .notFound
        case .staleVersion: self = .stale
        case .checksumMismatch: self = .checksumMismatch
        case .authenticationFailed: self = .authenticationFailed(error.message)
        case .throttled: self = .throttled(error.message)
        default: self = .refused(error.code, error.message)
        }
    }
}
