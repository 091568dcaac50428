import Glibc

/// Where `edfs get -o PATH` writes, decided from what PATH is now (docs/CLI.md): a get never replaces anything but a
/// regular file. A missing path becomes a new file; an existing folder (or a path ending in "/") gets the stored
/// name's last component inside it; a device or FIFO is written into, in order; an existing regular file is replaced
/// only with `force`; a symbolic link is refused unless `force`, which writes to what it points at (the same rules
/// applying there).
public enum OutputTarget {
    /// The destination for `path` and the stored `name`.
    public static func resolve(_ path: String, name: String, force: Bool) throws -> GetDestination {
        if path == "-" { return .standardOutput }
        guard !path.isEmpty else { throw ClientError.usage("-o needs a path") }
        return try resolve(path, name: name, force: force, depth: 0)
    }

    private static func resolve(_ path: String, name: String, force: Bool, depth: Int) throws -> GetDestination {
        guard depth < 8 else { throw ClientError.usage("\(path): too many levels of links or folders") }
        var info = stat()
        guard lstat(path, &info) == 0 else {
            let code = errno
            guard code == ENOENT else { throw ClientError.localIO("\(path): \(String(cString: strerror(code)))") }
            if path.hasSuffix("/") { throw ClientError.noSuchFile("\(path): no such folder") }
            return .file(path)
        }
        switch info.st_mode & S_IFMT {
        case S_IFDIR:
            let last = try localName(of: name)
            let inside = (path.hasSuffix("/") ? path : path + "/") + last
            var innerInfo = stat()
            if lstat(inside, &innerInfo) == 0, innerInfo.st_mode & S_IFMT == S_IFDIR {
                throw ClientError.usage("\(inside) is a folder; pass -o with a file path")
            }
            return try resolve(inside, name: name, force: force, depth: depth + 1)
        case S_IFREG:
            guard force else { throw ClientError.usage("\(path) exists; pass --force to replace it") }
            return .file(path)
        case S_IFLNK:
            guard force else {
                throw ClientError.usage("\(path) is a symbolic link; refusing to write through it (pass --force)")
            }
            guard let resolved = realpath(path, nil) else {
                // A dangling link: write the file it names.
                var buffer = [CChar](repeating: 0, count: Int(PATH_MAX) + 1)
                let count = readlink(path, &buffer, buffer.count - 1)
                guard count > 0 else { throw ClientError.localIO("\(path): cannot read the link") }
                let target = String(decoding: buffer[0..<count].map { UInt8(bitPattern: $0) }, as: UTF8.self)
                let base = path.contains("/") ? String(path[...(path.lastIndex(of: "/") ?? path.startIndex)]) : ""
                return try resolve(target.hasPrefix("/") ? target : base + target, name: name, force: force,
                                   depth: depth + 1)
            }
            defer { free(resolved) }
            return try resolve(String(cString: resolved), name: name, force: force, depth: depth + 1)
        case S_IFCHR, S_IFBLK, S_IFIFO:
            return .stream(path)
        default:
            throw ClientError.usage("\(path) is not a file, folder, device or FIFO; refusing to write there")
        }
    }

    /// The local file name a stored name gets by default: its last component. Refuses (usage) an empty one, `.`,
    /// `..`, and one with control characters: a stored name may hold any character, but a newline or an escape
    /// sequence in a local file name garbles every later listing of that folder.
    public static func localName(of name: String) throws -> String {
        let last = name.split(separator: "/").last.map(String.init) ?? ""
        guard !last.isEmpty, last != ".", last != ".." else {
            throw ClientError.usage("the stored name has no usable last component for a local file: pass -o PATH")
        }
        guard !last.unicodeScalars.contains(where: { $0.value < 0x20 || (0x7F...0x9F).contains($0.value) }) else {
            throw ClientError.usage("the stored name's last component has control characters: pass -o PATH")
        }
        return last
    }
}
