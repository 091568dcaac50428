import EDFSFormat
import Glibc

/// Where `get -r` writes a stored tree: a folder the user named, and folders below it reached only through
/// descriptors (openat with O_NOFOLLOW, mkdirat), so no link — one there before or one swapped in mid-get — can lead
/// a write outside the folder, even as root.
public final class LocalTree: Sendable {
    /// The folder the tree goes into, as given.
    public let root: String
    private let rootFolder: Int32

    /// Uses (or creates) the folder `root`. A symbolic link there is refused unless `force` (then it is followed:
    /// the user named it), like `get -o`.
    public init(root: String, force: Bool) throws {
        var info = stat()
        if lstat(root, &info) != 0 {
            guard errno == ENOENT, mkdir(root, 0o777) == 0 else {
                let code = errno
                throw ClientError.localIO("cannot create the folder \(root): \(String(cString: strerror(code)))")
            }
        } else if info.st_mode & S_IFMT == S_IFLNK, !force {
            throw ClientError.usage("\(root) is a symbolic link; refusing to write through it (pass --force)")
        }
        let fd = open(root, O_RDONLY | O_DIRECTORY | O_CLOEXEC | (force ? 0 : O_NOFOLLOW))
        guard fd >= 0 else {
            let code = errno
            throw code == ENOTDIR ? ClientError.conflict("\(root) exists and is not a folder")
                : ClientError.localIO("cannot open the folder \(root): \(String(cString: strerror(code)))")
        }
        rootFolder = fd
        self.root = root.count > 1 && root.hasSuffix("/") ? String(root.dropLast()) : root
    }

    deinit { close(rootFolder) }

    /// The components of the stored `relative` path as local names, or why it cannot be one: every component must be
    /// a usable local name (not empty, `.` or `..`, no control character).
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

    /// `components` below the root as a path, for messages.
    public func shown(_ components: [String]) -> String { ([root] + components).joined(separator: "/") }

    /// A descriptor of the folder `components` below the root (the caller closes it), or nil when it does not exist
    /// and `creating` is false. Refuses anything on the way that is not a real folder.
    public func folder(_ components: [String], creating: Bool) throws -> Int32? {
        var current = dup(rootFolder)
        guard current >= 0 else { throw ClientError.localIO("cannot open \(root)") }
        for (index, component) in components.enumerated() {
            var next = openat(current, component, O_RDONLY | O_DIRECTORY | O_NOFOLLOW | O_CLOEXEC)
            if next < 0, errno == ENOENT {
                guard creating else {
                    close(current)
                    return nil
                }
                guard mkdirat(current, component, 0o777) == 0 || errno == EEXIST else {
                    let code = errno
                    close(current)
                    throw ClientError.localIO("cannot create the folder \(shown(Array(components[...index]))): "
                                              + String(cString: strerror(code)))
                }
                next = openat(current, component, O_RDONLY | O_DIRECTORY | O_NOFOLLOW | O_CLOEXEC)
            }
            let code = errno
            close(current)
            guard next >= 0 else {
                if code == ELOOP || code == ENOTDIR {
                    throw ClientError.conflict("\(shown(Array(components[...index]))) is in the way: it is not a folder "
                                               + "(a link, a file or a device; links are never followed); nothing was written there")
                }
                throw ClientError.localIO("cannot open \(shown(Array(components[...index]))): \(String(cString: strerror(code)))")
            }
            current = next
        }
        return current
    }

    /// What is at `components` now (not following a link), or nil when nothing is.
    public func status(_ components: [String]) throws -> stat? {
        guard let last = components.last, let parent = try folder(Array(components.dropLast()), creating: false) else {
            return nil
        }
        defer { close(parent) }
        var info = stat()
        return fstatat(parent, last, &info, AT_SYMLINK_NOFOLLOW) == 0 ? info : nil
    }

    /// Makes the folder `components` (and those above it).
    public func makeFolder(_ components: [String]) throws {
        if let fd = try folder(components, creating: true) { close(fd) }
    }
}
