import EDFSFormat
import Glibc

/// Where `get -r` writes a stored tree: a folder the user named, and paths below it made only of real folders this
/// restore checked or created — never through a symbolic link, so nothing outside the folder is touched.
public struct LocalTree: Sendable {
    /// The folder the tree goes into.
    public let root: String

    /// Uses (or creates) the folder `root`; it must be a folder (a link to one is followed: the user named it).
    public init(root: String) throws {
        var info = stat()
        if stat(root, &info) != 0 {
            guard errno == ENOENT, mkdir(root, 0o777) == 0 else {
                let code = errno
                throw ClientError.localIO("cannot create the folder \(root): \(String(cString: strerror(code)))")
            }
        } else if info.st_mode & S_IFMT != S_IFDIR {
            throw ClientError.conflict("\(root) exists and is not a folder")
        }
        self.root = root.hasSuffix("/") ? String(root.dropLast()) : root
    }

    /// The local path of the stored `relative` path (components joined by "/"), or why it cannot be one: every
    /// component must be a usable local name (not empty, `.` or `..`, no control character).
    public static func checkedRelative(_ relative: String) throws -> [String] {
        let components = relative.split(separator: "/", omittingEmptySubsequences: false).map(String.init)
        for component in components {
            guard !component.isEmpty, component != ".", component != "..",
                  !component.unicodeScalars.contains(where: { $0.value < 0x20 || (0x7F...0x9F).contains($0.value) }) else {
                throw ClientError.usage("the stored name \"\(relative)\" cannot be a local path (an empty, . or .. part, "
                                        + "or control characters); get it alone with -o PATH")
            }
        }
        return components
    }

    /// `components` below the root as a path; with `creatingFolders`, the folders on the way are made where missing.
    /// Refuses anything on the way that is not a real folder (a link, a file).
    public func path(_ components: [String], creatingFolders: Bool) throws -> String {
        var path = root
        for (index, component) in components.enumerated() {
            path += "/" + component
            let isLast = index == components.count - 1
            var info = stat()
            if lstat(path, &info) == 0 {
                if isLast { break }
                guard info.st_mode & S_IFMT == S_IFDIR else {
                    throw ClientError.conflict("\(path) is in the way: it is not a folder (links are never followed)")
                }
            } else if !isLast {
                guard creatingFolders else { continue }
                guard mkdir(path, 0o777) == 0 || errno == EEXIST else {
                    let code = errno
                    throw ClientError.localIO("cannot create the folder \(path): \(String(cString: strerror(code)))")
                }
            }
        }
        return path
    }

    /// Makes the folder `components` (and those above it).
    public func makeFolder(_ components: [String]) throws {
        let path = try self.path(components, creatingFolders: true)
        var info = stat()
        if lstat(path, &info) == 0 {
            guard info.st_mode & S_IFMT == S_IFDIR else { throw ClientError.conflict("\(path) exists and is not a folder") }
            return
        }
        guard mkdir(path, 0o777) == 0 else {
            let code = errno
            throw ClientError.localIO("cannot create the folder \(path): \(String(cString: strerror(code)))")
        }
    }
}
