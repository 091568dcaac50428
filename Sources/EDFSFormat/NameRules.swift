/// The alphabet for names that become file or directory names on disk (user names, server names).
///
/// A valid name is 1–64 characters of `[A-Za-z0-9._-]` and does not start with `.` or `-`,
/// so it can never be `.`, `..`, a hidden file, an option, or contain a path separator.
public enum NameRules {
    /// Longest accepted name, in characters (all ASCII, so also bytes).
    public static let maxNameLength = 64

    /// True when `name` may be used as a user name (it becomes `users/<name>/` on nodes).
    public static func isValidUserName(_ name: some StringProtocol) -> Bool { isSafeName(name) }

    /// True when `name` may be used as a server name (it becomes `<name>.crt` and `<name>.key` in the keys folder).
    public static func isValidServerName(_ name: some StringProtocol) -> Bool { isSafeName(name) }

    /// The shared rule behind both checks.
    public static func isSafeName(_ name: some StringProtocol) -> Bool {
        let utf8 = name.utf8
        guard let first = utf8.first, utf8.count <= maxNameLength else { return false }
        guard first != UInt8(ascii: "."), first != UInt8(ascii: "-") else { return false }
        return utf8.allSatisfy { c in
            switch c {
            case UInt8(ascii: "a")...UInt8(ascii: "z"), UInt8(ascii: "A")...UInt8(ascii: "Z"),
                 UInt8(ascii: "0")...UInt8(ascii: "9"), UInt8(ascii: "."), UInt8(ascii: "_"), UInt8(ascii: "-"):
                return true
            default:
                return false
            }
        }
    }
}
