/// Why a stripe could not be sealed or opened.
public enum StripeError: Error, Equatable, Sendable, CustomStringConvertible {
    /// A batch broke the segment rules: not whole segments before the end, or past the stripe's length.
    case badBatch(String)
    /// The object's header is not the one the manifest expects (another file, stripe or length).
    case headerMismatch
    /// A segment failed authentication: the object was changed, truncated, reordered or belongs elsewhere.
    case segmentAuthenticationFailed(segment: UInt64)
    /// The object ended before its last segment.
    case truncated(expected: UInt64, received: UInt64)
    /// The object has bytes after its final segment.
    case trailingBytes

    public var description: String {
        switch self {
        case let .badBatch(why): return "bad segment batch: \(why)"
        case .headerMismatch: return "stripe object header does not match the manifest"
        case let .segmentAuthenticationFailed(segment): return "segment \(segment) failed authentication"
        case let .truncated(expected, received): return "stripe object truncated: \(received) of \(expected) bytes"
        case .trailingBytes: return "stripe object has bytes after its final segment"
        }
    }
}
