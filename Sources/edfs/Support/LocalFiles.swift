import ArgumentParser
import EDFSClient
import EDFSFormat
import Foundation

/// Local files named on the command line, directories expanded, by the one naming rule of `put` (docs/CLI.md):
/// rsync's trailing slash. A file is stored under its last component; a folder `photos` as `photos/…`; `photos/`
/// (trailing slash) stores what it holds, `photos/a.jpg` as `a.jpg`. `--to FOLDER` puts all of it inside FOLDER.
enum LocalFiles {
    struct Item {
        var path: String
        var name: String
        var size: UInt64
    }

    /// A stored folder to make (empty local folders included), with the local folder's permission bits.
    struct Folder {
        var name: String
        var mode: UInt32
    }

    /// Regular files under `paths` and the folders they make; `name` renames a single file, `folder` is the stored
    /// folder everything goes into ("" for the top). Every stored name is checked before anything is stored.
    static func expand(_ paths: [String], as name: String?, into folder: String = "") throws -> (items: [Item], folders: [Folder]) {
        var items = [Item]()
        var folders = [Folder]()
        let manager = FileManager.default
        for path in paths {
            var isDirectory: ObjCBool = false
            guard manager.fileExists(atPath: path, isDirectory: &isDirectory) else {
                throw ClientError.noSuchFile("\(path): no such local file: check the path")
            }
            let base = URL(fileURLWithPath: path).standardized.lastPathComponent
            if isDirectory.boolValue {
                if name != nil { throw ClientError.usage("--as names one file, not the directory \(path)") }
                let prefix = path.hasSuffix("/") ? folder : StoredPath.join(folder, base)
                if !prefix.isEmpty { folders.append(Folder(name: prefix, mode: mode(of: path))) }
                for entry in try walk(path) {
                    let stored = StoredPath.join(prefix, entry.relative)
                    if entry.isFolder {
                        folders.append(Folder(name: stored, mode: mode(of: entry.full)))
                        continue
                    }
                    guard let attributes = try? manager.attributesOfItem(atPath: entry.full) else {
                        throw ClientError.localIO("cannot read \(entry.full)")
                    }
                    guard attributes[.type] as? FileAttributeType == .typeRegular else {
                        if attributes[.type] as? FileAttributeType == .typeSymbolicLink {
                            printError("note: skipped symbolic link \(entry.full)")
                        }
                        continue
                    }
                    items.append(Item(path: entry.full, name: stored,
                                      size: (attributes[.size] as? NSNumber)?.uint64Value ?? 0))
                }
            } else {
                let attributes = try? manager.attributesOfItem(atPath: path)
                items.append(Item(path: path, name: name ?? StoredPath.join(folder, base),
                                  size: (attributes?[.size] as? NSNumber)?.uint64Value ?? 0))
            }
        }
        for item in items {
            if let problem = StoredPath.problem(with: item.name) {
                throw ClientError.usage("\(item.path) cannot be stored as \"\(item.name)\": \(problem); nothing was stored")
            }
        }
        for folder in folders {
            if let problem = StoredPath.problem(with: folder.name) {
                throw ClientError.usage("the folder \"\(folder.name)\" cannot be stored: \(problem); nothing was stored")
            }
        }
        // Compared as bytes, as stored names are (NFC and NFD spellings are two names).
        let sorted = items.sorted { Array($0.name.utf8).lexicographicallyPrecedes(Array($1.name.utf8)) }
        for (a, b) in zip(sorted, sorted.dropFirst()) where Array(a.name.utf8) == Array(b.name.utf8) {
            throw ClientError.usage("\(a.path) and \(b.path) would both be stored as \"\(a.name)\"; use --as or put them separately")
        }
        return (sorted, folders.sorted { $0.name.utf8.count < $1.name.utf8.count })
    }

    private static func mode(of path: String) -> UInt32 {
        var info = stat()
        return stat(path, &info) == 0 ? UInt32(info.st_mode) & 0o7777 : 0o755
    }

    /// Every entry below `root` (links not followed), with its path relative to `root`; a folder that cannot be read
    /// is an error, never a silent skip.
    private static func walk(_ root: String) throws -> [(full: String, relative: String, isFolder: Bool)] {
        let top = root.hasSuffix("/") ? String(root.dropLast()) : root
        var result = [(full: String, relative: String, isFolder: Bool)]()
        var pending = [""]
        while let relative = pending.popLast() {
            let folder = relative.isEmpty ? top : top + "/" + relative
            let names: [String]
            do {
                names = try FileManager.default.contentsOfDirectory(atPath: folder)
            } catch {
                let reason = (error as NSError).localizedFailureReason ?? "permission denied or not readable"
                throw ClientError.localIO("cannot read the folder \(folder): \(reason); nothing was stored")
            }
            for name in names.sorted() {
                let child = relative.isEmpty ? name : relative + "/" + name
                let full = top + "/" + child
                var info = stat()
                guard lstat(full, &info) == 0 else { throw ClientError.localIO("cannot read \(full)") }
                if info.st_mode & S_IFMT == S_IFDIR {
                    pending.append(child)
                    result.append((full, child, true))
                } else {
                    result.append((full, child, false))
                }
            }
        }
        return result
    }
}
