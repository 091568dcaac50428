import ArgumentParser
import EDFSClient
import EDFSFormat
import Foundation

/// `edfs put FILE… [--as NAME]`
struct PutCommand: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "put", abstract: "Encrypt files (directories recursively) and store them on the nodes.")

    @OptionGroup var options: ClientOptions

    @Option(name: .customLong("as"), help: "Store the one FILE under this name.")
    var name: String?

    @Argument(help: "Files or directories to store.")
    var files: [String]

    func validate() throws {
        guard !files.isEmpty else { throw ValidationError("name at least one file") }
        if name != nil && files.count != 1 { throw ValidationError("--as takes exactly one file") }
    }

    func run() async throws {
        try await reportingFailures {
            let items = try LocalFiles.expand(files, as: name)
            try await withSession(options) { session in
                for item in items {
                    let progress = options.progress("put \(item.name)", total: item.size)
                    defer { progress?.finish() }
                    let result = try await PutOperation(session).run(file: item.path, as: item.name, progress: progress)
                    var line = "stored \(result.name) (\(ByteCount.humanReadable(Int(clamping: result.size))), version \(result.version))"
                    if !result.missingReplicas.isEmpty {
                        line += "; degraded: \(result.missingReplicas.count) replica(s) missing, "
                            + "stripes \(Set(result.missingReplicas.map(\.stripe)).sorted().map(String.init).joined(separator: ","))"
                    }
                    print(line)
                }
            }
        }
    }
}

/// `edfs get NAME [-o PATH]`
struct GetCommand: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "get", abstract: "Fetch, verify and decrypt a stored file; it appears only when complete.")

    @OptionGroup var options: ClientOptions

    @Option(name: .shortAndLong, help: "Output path (\"-\" for standard output; default: the name's last component).")
    var output: String?

    @Flag(help: "Flush the output to disk before returning (the nodes keep the durable copy either way).")
    var sync = false

    @Argument(help: "The stored name.")
    var name: String

    func run() async throws {
        try await reportingFailures {
            let destination: GetDestination
            if output == "-" {
                destination = .standardOutput
            } else if let output {
                destination = .file(output)
            } else {
                let last = name.split(separator: "/").last.map(String.init) ?? ""
                guard !last.isEmpty, last != ".", last != ".." else {
                    throw ClientError.usage("\"\(name)\" has no usable file name: pass -o PATH")
                }
                destination = .file(last)
            }
            removePartialOutputsOnInterrupt()
            try await withSession(options) { session in
                let progress = destination == .standardOutput ? nil : options.progress("get \(name)", total: 0)
                defer { progress?.finish() }
                let record = try await GetOperation(session).run(name: name, to: destination, sync: sync, progress: progress)
                if case let .file(path) = destination {
                    printError("wrote \(path) (\(ByteCount.humanReadable(Int(clamping: record.body.size))))")
                }
            }
        }
    }
}

/// `edfs ls [--json]`
struct ListCommand: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "ls", abstract: "List stored files with sizes, dates and replica health.")

    @OptionGroup var options: ClientOptions

    @Flag(help: "Print a JSON array.")
    var json = false

    func run() async throws {
        try await reportingFailures {
            let files = try await withSession(options) { try await ListOperation($0).run() }
            if json {
                let encoder = JSONEncoder()
                encoder.outputFormatting = [.sortedKeys, .prettyPrinted]
                print(String(decoding: try encoder.encode(files), as: UTF8.self))
                return
            }
            let formatter = ISO8601DateFormatter()
            for file in files {
                let date = formatter.string(from: Date(timeIntervalSince1970: TimeInterval(file.modified)))
                let size = ByteCount.humanReadable(Int(clamping: file.size))
                print("\(size.padding(toLength: 10, withPad: " ", startingAt: 0))  \(date)  \(file.health.padding(toLength: 30, withPad: " ", startingAt: 0))  \(file.name)")
            }
        }
    }
}

/// `edfs rm NAME`
struct RemoveCommand: AsyncParsableCommand {
    static let configuration = CommandConfiguration(commandName: "rm", abstract: "Remove a stored file everywhere.")

    @OptionGroup var options: ClientOptions

    @Argument(help: "The stored name.")
    var name: String

    func run() async throws {
        try await reportingFailures {
            try await withSession(options) { try await RemoveOperation($0).run(name: name) }
            print("removed \(name)")
        }
    }
}

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
