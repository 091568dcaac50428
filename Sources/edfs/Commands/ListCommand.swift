import ArgumentParser
import EDFSClient
import EDFSFormat
import Foundation

/// `edfs ls [PATH…] [-l] [-R] [--json]`
struct ListCommand: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "ls", abstract: "List a folder of stored files (the top one by default), or every file with -R.",
        discussion: """
            Folders end in "/". -l adds the size, the file's own modification time, the time it was stored, and its \
            health (healthy, degraded: readable but short of a replica, unavailable: not readable with the nodes that \
            answered). Exit 0, or 69/65 when some listed file is unavailable/damaged (see edfs check).

            Examples:
              edfs ls                                the top folder
              edfs ls -l photos                      one folder, long form
              edfs ls -R --json                      everything, for scripts
            """)

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
            let (files, everyNodeAnswered) = try await withSession(options) { session in
                (try await ListOperation(session).run(), session.reachableNodes.count == session.nodeCount)
            }
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
                print(String(decoding: try encoder.encode(shown.map { JSONEntry(Self.listing($0)) }), as: UTF8.self))
            } else if long {
                printLong(shown)
            } else {
                for child in shown { print(shownName(child)) }
            }
            let unhealthy = files.filter { $0.health != "healthy" }.count
            if unhealthy > 0 {
                printError("\(unhealthy) of \(files.count) stored file(s) not healthy: see edfs check, fix with edfs repair")
            }
            // A listing that shows a file no one can read right now says which, and so does its exit code (docs/CLI.md).
            let unreadable = shown.filter { !$0.isFolder && Self.listing($0).health.hasPrefix("unavailable") }
            for child in unreadable.prefix(10) {
                let why = Self.listing(child).health.replacingOccurrences(of: "unavailable: ", with: "")
                printError("\(child.path) is unavailable (\(why) replicas on the nodes that answered): "
                           + (everyNodeAnswered
                              ? "every node answered, so its replicas are missing or damaged: see edfs check, then edfs repair"
                              : "start the nodes that are down, then see edfs check"))
            }
            if unreadable.count > 10 { printError("and \(unreadable.count - 10) more unavailable file(s): see edfs check") }
            if !unreadable.isEmpty { throw ExitCode(ExitStatus.unavailable) }
        }
    }

    private func shownName(_ child: Namespace.Child) -> String {
        displayed(recursive || paths.count > 1 ? child.path : child.name) + (child.isFolder ? "/" : "")
    }

    /// `-l`: a header, then one row per entry, each column as wide as its widest cell; the name comes last.
    private func printLong(_ shown: [Namespace.Child]) {
        var rows = [["SIZE", "MODIFIED", "STORED", "HEALTH", "NAME"]]
        for child in shown {
            let listing = Self.listing(child)
            rows.append([child.isFolder ? "-" : ByteCount.humanReadable(Int(clamping: listing.size)),
                         Self.isoTime(listing.modified) ?? "-", Self.isoTime(listing.stored) ?? "-",
                         listing.health, shownName(child)])
        }
        let widths = (0..<4).map { column in rows.map { $0[column].count }.max() ?? 0 }
        for row in rows {
            let padded = (0..<4).map { row[$0].padding(toLength: widths[$0], withPad: " ", startingAt: 0) }
            print((padded + [row[4]]).joined(separator: "  "))
        }
    }

    /// Seconds since 1970 as ISO 8601 UTC (`2026-12-07T10:12:13Z`); nil for 0 (not recorded).
    /// Formatted by hand from `gmtime_r`: a Foundation formatter made per call cost ~0.1 ms, over a second for the
    /// two times of each of 10,000 files in `ls -l`.
    static func isoTime(_ seconds: Int64) -> String? {
        guard seconds != 0, let time = time_t(exactly: seconds) else { return nil }
        var clock = time
        var parts = tm()
        guard gmtime_r(&clock, &parts) != nil else { return nil }
        func two(_ value: Int32) -> String { value < 10 ? "0\(value)" : "\(value)" }
        let year = Int(parts.tm_year) + 1900
        let yearText = year >= 0 && year < 1000 ? String(repeating: "0", count: 4 - String(year).count) + String(year)
            : String(year)
        return "\(yearText)-\(two(parts.tm_mon + 1))-\(two(parts.tm_mday))T\(two(parts.tm_hour)):\(two(parts.tm_min)):"
            + "\(two(parts.tm_sec))Z"
    }

    /// One entry of `ls --json`: the listing's fields, with both times also as ISO 8601 text.
    private struct JSONEntry: Encodable {
        let listing: FileListing
        init(_ listing: FileListing) { self.listing = listing }

        private enum Key: String, CodingKey { case modifiedTime, storedTime }

        func encode(to encoder: any Encoder) throws {
            try listing.encode(to: encoder)
            var container = encoder.container(keyedBy: Key.self)
            try container.encodeIfPresent(ListCommand.isoTime(listing.modified), forKey: .modifiedTime)
            try container.encodeIfPresent(ListCommand.isoTime(listing.stored), forKey: .storedTime)
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
