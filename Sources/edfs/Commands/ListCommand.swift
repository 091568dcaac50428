import ArgumentParser
import EDFSClient
import EDFSFormat
import Foundation

/// `edfs ls [PATH…] [-l] [-R] [--json]`
struct ListCommand: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "ls", abstract: "List a folder of stored files (the top one by default), or every file with -R.")

    @OptionGroup var options: ClientOptions

    @Flag(name: .shortAndLong, help: "Long form: size, modification time, replica health.")
    var long = false

    @Flag(name: [.customShort("R"), .long], help: "Everything inside the folders, at any depth.")
    var recursive = false

    @Flag(help: "Print a JSON array (every shown entry with its details).")
    var json = false

    @Argument(help: "Folders or files to list (default: the top folder).")
    var paths: [String] = []

    func run() async throws {
        try await reportingFailures {
            exitOnInterrupt { "nothing was changed" }
            let files = try await withSession(options) { try await ListOperation($0).run() }
            let names = Namespace(files)
            var shown = [Namespace.Child]()
            for path in paths.isEmpty ? [""] : paths.map(StoredPath.trimmed) {
                switch names.kind(of: path) {
                case nil:
                    throw ClientError.noSuchFile("nothing named \"\(path)\" is stored (see edfs ls)")
                case let .file(listing)?:
                    shown.append(Namespace.Child(name: StoredPath.lastComponent(of: path), path: path, kind: .file(listing)))
                case .folder?:
                    shown += recursive ? Self.everything(inside: path, names) : names.children(of: path)
                }
            }
            if json {
                let encoder = JSONEncoder()
                encoder.outputFormatting = [.sortedKeys, .prettyPrinted]
                print(String(decoding: try encoder.encode(shown.map(Self.listing)), as: UTF8.self))
            } else {
                let formatter = ISO8601DateFormatter()
                for child in shown {
                    let name = displayed(recursive || paths.count > 1 ? child.path : child.name) + (child.isFolder ? "/" : "")
                    guard long else {
                        print(name)
                        continue
                    }
                    let listing = Self.listing(child)
                    let size = child.isFolder ? "-" : ByteCount.humanReadable(Int(clamping: listing.size))
                    let date = listing.modified == 0 ? "-"
                        : formatter.string(from: Date(timeIntervalSince1970: TimeInterval(listing.modified)))
                    print("\(size.padding(toLength: 10, withPad: " ", startingAt: 0))  \(date.padding(toLength: 20, withPad: " ", startingAt: 0))  \(listing.health.padding(toLength: 30, withPad: " ", startingAt: 0))  \(name)")
                }
            }
            let unhealthy = files.filter { $0.health != "healthy" }.count
            if unhealthy > 0 {
                printError("\(unhealthy) of \(files.count) stored file(s) not healthy: see edfs check, fix with edfs repair")
            }
        }
    }

    /// Every file and folder inside `folder`, depth first, in name order.
    private static func everything(inside folder: String, _ names: Namespace) -> [Namespace.Child] {
        var result = [Namespace.Child]()
        for child in names.children(of: folder) {
            result.append(child)
            if child.isFolder { result += everything(inside: child.path, names) }
        }
        return result
    }

    /// The details of one shown entry (a folder without an entry gets empty ones).
    private static func listing(_ child: Namespace.Child) -> FileListing {
        switch child.kind {
        case let .file(listing), let .folder(entry: listing?): return listing
        case .folder(entry: nil):
            return FileListing(name: child.path, size: 0, modified: 0, version: 0, keyEpoch: 0, health: "healthy",
                               manifestNodes: [], isFolder: true, mode: 0)
        }
    }
}
