/// Why bytes could not be decoded as one of edfs's formats, or a value could not be encoded.
public enum FormatError: Error, Equatable, Sendable, CustomStringConvertible {
    /// The input ended before the named structure was complete.
    case truncated(String)
    /// A magic number did not match: this is not the named structure.
    case badMagic(String)
    /// A format version this build does not read.
    case unsupportedVersion(String, UInt8)
    /// A field held a value outside its allowed range.
    case invalidField(String, String)
    /// Bytes were left over after the named structure.
    case trailingBytes(String)
    /// Authentication failed: wrong key, or the stored bytes were changed.
    case authenticationFailed(String)

    public var description: String {
        switch self {
        case let .truncated(what): return "\(what) is truncated"
        case let .badMagic(what): return "not a \(what) (bad magic)"
        case let .unsupportedVersion(what, version): return "\(what) format version \(version) is not supported"
        case let .invalidField(field, why): return "\(field) \(why)"
        case let .trailingBytes(what): return "\(what) has trailing bytes"
        case let .authenticationFailed(what): return "\(what) failed authentication (wrong key, or the data was changed)"
        }
    }
}

extension FormatError: BigEndianCodingError {
    public static func endOfInput(_ context: String) -> FormatError { .truncated(context) }
    public static func leftoverBytes(_ context: String, count: Int) -> FormatError { .trailingBytes(context) }
    public static func reservedNotZero(_ context: String) -> FormatError {
        .invalidField("\(context) reserved bytes", "must be zero")
    }
    public static func stringTooLong(_ field: String, maxBytes: Int) -> FormatError {
        .invalidField(field, "is longer than \(maxBytes) bytes")
    }
    public static func notUTF8(_ field: String) -> FormatError { .invalidField(field, "is not valid UTF-8") }
}
