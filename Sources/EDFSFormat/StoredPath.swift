/// The rule for stored names (docs/CLI.md, "Names and folders"): a path of components separated by single `/`, with
/// no leading or trailing `/`, no empty, `.` or `..` component, no control character, each component at most 255
/// bytes (so that `get -r` can write it on any POSIX file system) and the whole at most 4096 bytes.
public enum StoredPath {
    /// Longest component, in UTF-8 bytes (POSIX NAME_MAX).
    public static let maximumComponentBytes = 255

    /// Why `path` is not a valid new stored name, or nil when it is.
    public static func problem(with path: String) -> String? {
        let bytes = path.utf8
        guard !bytes.isEmpty else { return "a stored name cannot be empty" }
        guard bytes.count <= ManifestBody.maximumNameBytes else {
            return "a stored name is at most \(ManifestBody.maximumNameBytes) bytes"
        }
        if bytes.contains(where: { $0 < 0x20 || $0 == 0x7F }) { return "a stored name cannot hold control characters" }
        for component in path.split(separator: "/", omittingEmptySubsequences: false) {
            if component.isEmpty { return "a stored name has no empty component (no leading, trailing or double /)" }
            if component == "." || component == ".." { return "a stored name has no . or .. component" }
            if component.utf8.count > maximumComponentBytes {
                return "each part of a stored name is at most \(maximumComponentBytes) bytes"
            }
        }
        return nil
    }

    /// True when `path` is a valid new stored name.
    public static func isValid(_ path: String) -> Bool { problem(with: path) == nil }

    /// The folder holding `path` ("" for the top), e.g. "a/b" for "a/b/c.txt".
    public static func parent(of path: String) -> String {
        guard let slash = path.lastIndex(of: "/") else { return "" }
        return String(path[..<slash])
    }

    /// The last component, e.g. "c.txt" for "a/b/c.txt".
    public static func lastComponent(of path: String) -> String {
        guard let slash = path.lastIndex(of: "/") else { return path }
        return String(path[path.index(after: slash)...])
    }

    /// Every folder above `path`, outermost first: ["a", "a/b"] for "a/b/c.txt".
    public static func ancestors(of path: String) -> [String] {
        var result = [String]()
        var current = parent(of: path)
        while !current.isEmpty {
            result.append(current)
            current = parent(of: current)
        }
        return result.reversed()
    }

    /// `folder` joined with `name` ("" is the top).
    public static func join(_ folder: String, _ name: String) -> String { folder.isEmpty ? name : folder + "/" + name }

    /// True when `path` lies inside `folder` (at any depth; the top holds everything).
    public static func isInside(_ path: String, folder: String) -> Bool {
        // Byte-wise: names that differ only in Unicode normalisation are different names here, as in their ids.
        folder.isEmpty || (path.utf8.starts(with: folder.utf8)
            && path.utf8.dropFirst(folder.utf8.count).first == UInt8(ascii: "/"))
    }

    /// A user-typed folder or name with surrounding slashes removed ("photos/" → "photos", "/" → "").
    public static func trimmed(_ text: String) -> String {
        var result = Substring(text)
        while result.hasPrefix("/") { result = result.dropFirst() }
        while result.hasSuffix("/") { result = result.dropLast() }
        return String(result)
    }
}
