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
                guard let walker = manager.enumerator(atPath: path) else { throw ClientError.localIO("cannot read \(path)") }
                for case let relative as String in walker {
                    let full = path + "/" + relative
                    guard let attributes = try? manager.attributesOfItem(atPath: full) else { continue }
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
}
