import EDFSFormat
import Glibc

/// Turns a path FUSE hands the file system (`/a/b c/d.txt`) into a stored name (`a/b c/d.txt`), refusing what must
/// never become one. The root is the empty name.
enum MountPath {
    /// Longest component, as most local file systems allow (NAME_MAX).
    static let maximumComponentBytes = 255

    /// The stored name for `path`, or the errno to answer with: EINVAL for a path that is not absolute UTF-8, or
    /// holds an empty, `.` or `..` component or a control character; ENAMETOOLONG past 255 bytes a component or the
    /// manifest's 4096 bytes a name.
    static func storedName(_ path: UnsafePointer<CChar>?) -> Result<String, MountError> {
        guard let path, let text = String(validatingCString: path) else { return .failure(.errno(EINVAL)) }
        return storedName(text)
    }

    static func storedName(_ text: String) -> Result<String, MountError> {
        guard text.hasPrefix("/") else { return .failure(.errno(EINVAL)) }
        if text == "/" { return .success("") }
        let name = String(text.dropFirst())
        guard name.utf8.count <= ManifestBody.maximumNameBytes else { return .failure(.errno(ENAMETOOLONG)) }
        for component in name.split(separator: "/", omittingEmptySubsequences: false) {
            guard !component.isEmpty, component != ".", component != ".." else { return .failure(.errno(EINVAL)) }
            guard component.utf8.count <= maximumComponentBytes else { return .failure(.errno(ENAMETOOLONG)) }
            guard !component.utf8.contains(where: { $0 < 0x20 || $0 == 0x7F }) else { return .failure(.errno(EINVAL)) }
        }
        // And the store's own rule for names (the same one put and mkdir apply).
        guard StoredPath.problem(with: name) == nil else { return .failure(.errno(EINVAL)) }
        return .success(name)
    }

    /// The folder holding `name` ("" for the root).
    static func parent(of name: String) -> String {
        guard let slash = name.lastIndex(of: "/") else { return "" }
        return String(name[..<slash])
    }

    /// The last component of `name`.
    static func leaf(of name: String) -> String {
        guard let slash = name.lastIndex(of: "/") else { return name }
        return String(name[name.index(after: slash)...])
    }
}
