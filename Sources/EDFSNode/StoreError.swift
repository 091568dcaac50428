import EDFSFormat

/// Why a store operation failed. `wire` is what the client is told; `description` is for the node's log.
public enum StoreError: Error, Equatable, Sendable, CustomStringConvertible {
    case notFound(String)
    case invalidName(String)
    /// A stored block or footer failed its checksum.
    case checksumMismatch(String)
    case lengthMismatch(expected: UInt64, received: UInt64)
    case storageFull(String)
    /// A system call failed: the operation, and errno's text.
    case io(String, String)
    /// A manifest or keyslot is not newer than the stored one.
    case stale(String)
    /// A request's content is inconsistent (bad manifest header, offset past the end).
    case invalid(String)
    case tooLarge(String)
    /// The object is named by a manifest on this node: it is kept.
    case inUse(String)

    public var description: String {
        switch self {
        case let .notFound(what): return "\(what) not found"
        case let .invalidName(why): return why
        case let .checksumMismatch(what): return "checksum mismatch in \(what)"
        case let .lengthMismatch(expected, received): return "announced \(expected) bytes, received \(received)"
        case let .storageFull(what): return "storage full: \(what)"
        case let .io(operation, reason): return "I/O error: \(operation): \(reason)"
        case let .stale(why): return why
        case let .invalid(why): return why
        case let .tooLarge(why): return why
        case let .inUse(why): return why
        }
    }

    /// The ERROR frame for this failure (never FATAL: the connection stays usable).
    public var wire: WireError {
        switch self {
        case .notFound: return WireError(.notFound, description)
        case .invalidName: return WireError(.invalidName, description)
        case .checksumMismatch: return WireError(.checksumMismatch, description)
        case .lengthMismatch: return WireError(.lengthMismatch, description + "; nothing stored")
        case .storageFull: return WireError(.storageFull, description + "; nothing stored")
        case let .io(operation, reason): return WireError(.ioError, "\(operation) failed on the node: \(reason)")
        case .stale: return WireError(.staleVersion, description)
        case .invalid: return WireError(.malformed, description)
        case .tooLarge: return WireError(.tooLarge, description)
        case .inUse: return WireError(.conflict, description)
        }
    }
}
