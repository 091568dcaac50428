import ArgumentParser
import EDFSClient
import EDFSFormat
import Foundation

/// Local files named on the command line, directories expanded.
enum LocalFiles {
    struct Item {
        var path: String
        var name: String
        var size: UInt64
    }

    /// Regular files under `paths` (directories recursively, named `dir/relative/path`); `name` renames a single file.
    static func expand(_ paths: [String], as name: String?) throws -> [Item] {
        var items = [Item]()
        let manager = FileManager.default
        for path in paths {
            var isDirectory: ObjCBool = false
            guard manager.fileExists(atPath: path, isDirectory: &isDirectory) else {
                throw ClientError.noSuchFile("\(path): no such file")
            }
            let base = URL(fileURLWithPath: path).standardized.lastPathComponent
            if isDirectory.boolValue {
                if name != nil { throw ClientError.usage("--as names one file, not the directory \(path)") }
                for (full, relative) in try walk(path) {
                    guard let attributes = try? manager.attributesOfItem(atPath: full) else {
                        throw ClientError.localIO("cannot read \(full)")
                    }
                    guard attributes[.type] as? FileAttributeType == .typeRegular else {
                        if attributes[.type] as? FileAttributeType == .typeSymbolicLink {
                            printError("note: skipped symbolic link \(full)")
                        }
                        continue
                    }
                    items.append(Item(path: full, name: base + "/" + relative,
                                      size: (attributes[.size] as? NSNumber)?.uint64Value ?? 0))
                }
            } else {
                let attributes = try? manager.attributesOfItem(atPath: path)
                items.append(Item(path: path, name: name ?? base, size: (attributes?[.size] as? NSNumber)?.uint64Value ?? 0))
            }
        }
        let sorted = items.sorted { $0.name < $1.name }
        for (a, b) in zip(sorted, sorted.dropFirst()) where a.name == b.name {
            throw ClientError.usage("\(a.path) and \(b.path) would both be stored as \"\(a.name)\"; use --as or put them separately")
        }
        return sorted
    }

    /// Every entry below `root` (folders first descended, links not followed), as (full path, path relative to
    /// `root`); a folder that cannot be read is an error, never a silent skip.
    private static func walk(_ root: String) throws -> [(String, String)] {
        var result = [(String, String)]()
        var pending = [""]
        while let relative = pending.popLast() {
            let folder = relative.isEmpty ? root : root + "/" + relative
            let names: [String]
            do {
                names = try FileManager.default.contentsOfDirectory(atPath: folder)
            } catch {
                let reason = (error as NSError).localizedFailureReason ?? "permission denied or not readable"
                throw ClientError.localIO("cannot read the folder \(folder): \(reason); nothing was stored")
            }
            for name in names.sorted() {
                let child = relative.isEmpty ? name : relative + "/" + name
                let full = root + "/" + child
                var info = stat()
                guard lstat(full, &info) == 0 else { throw ClientError.localIO("cannot read \(full)") }
                if info.st_mode & S_IFMT == S_IFDIR {
                    pending.append(child)
                } else {
                    result.append((full, child))
                }
            }
        }
        return result
    }
}
