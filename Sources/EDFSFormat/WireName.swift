/// The strict alphabet for object and manifest ids, checked before any id becomes part of a path on a node.
public enum WireName {
    /// Longest object or manifest id, in bytes.
    public static let maxLength = 128

    /// True when `name` is 1–128 bytes of `[A-Za-z0-9._-]`, does not start with `.` and does not contain `..`.
    /// Such a name is a single, non-hidden path component on every file system the node runs on.
    public static func isValidID(_ name: String) -> Bool {
        let utf8 = Array(name.utf8)
        guard !utf8.isEmpty, utf8.count <= maxLength, utf8[0] != UInt8(ascii: ".") else { return false }
        var previous: UInt8 = 0
        for byte in utf8 {
            switch byte {
            case UInt8(ascii: "A")...UInt8(ascii: "Z"), UInt8(ascii: "a")...UInt8(ascii: "z"),
                 UInt8(ascii: "0")...UInt8(ascii: "9"), UInt8(ascii: "_"), UInt8(ascii: "-"):
                break
            case UInt8(ascii: "."):
                if previous == UInt8(ascii: ".") { return false }
            default:
                return false
            }
            previous = byte
        }
        return true
    }

    /// Throws `invalid name` unless `isValidID(name)`. The message shows the name only if it is printable and short.
    public static func validateID(_ name: String, kind: String) throws(WireError) {
        guard isValidID(name) else { throw WireError(.invalidName, "\(kind) id \(quoted(name)) is not allowed") }
    }

    /// A safe rendering of an untrusted name for messages and logs.
    public static func quoted(_ name: String) -> String {
        let printable = name.utf8.count <= 64 && name.unicodeScalars.allSatisfy { $0.value >= 0x20 && $0.value < 0x7F }
        return printable ? "\"\(name)\"" : "(\(name.utf8.count) bytes, not printable or too long)"
    }
}
