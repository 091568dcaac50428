/// Why a size text could not be read.
public enum ByteCountError: Error, Equatable, Sendable, CustomStringConvertible {
    case empty
    case negative(String)
    case overflow(String)
    case ambiguousUnit(String)
    case notWholeBytes(String)
    case malformed(String)

    public var description: String {
        switch self {
        case .empty:
            return "empty size: expected a number with an optional unit, e.g. 512M"
        case let .negative(text):
            return "size \"\(MessageText.clip(text))\" is negative"
        case let .overflow(text):
            return "size \"\(MessageText.clip(text))\" is too large"
        case let .ambiguousUnit(unit):
            return "ambiguous unit \"\(MessageText.clip(unit))\": write \(unit.prefix(1).uppercased()) or \(unit.prefix(1).uppercased())iB (units are binary, K = 1024)"
        case let .notWholeBytes(text):
            return "size \"\(MessageText.clip(text))\" is not a whole number of bytes"
        case let .malformed(text):
            return "bad size \"\(MessageText.clip(text))\": expected a number with an optional unit B, K, M, G, T, P, E (binary, K = 1024), e.g. 512M"
        }
    }
}
