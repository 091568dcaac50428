import ArgumentParser
import EDFSClient
import EDFSFormat
import Foundation

/// `edfs check [NAME…] [--read-data] [--json]`
struct CheckCommand: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "check",
        abstract: "Show where every replica of each file is and whether it is whole; changes nothing.",
        discussion: """
            Exit 0 when every file is healthy, 3 when some file is degraded (readable, short of full redundancy: \
            run edfs repair), 69 when some file is unavailable with the nodes that answered, 65 when some file is \
            damaged (a stripe with no good replica anywhere).

            Examples:
              edfs check                             every file, from the nodes' listings
              edfs check --read-data report.pdf      read every replica and verify every tag
              edfs check --json | jq .               for scripts
            """)

    @OptionGroup var options: ClientOptions
    @OptionGroup var display: ProgressOptions

    @Flag(help: "Read every replica and verify every GCM tag (reads all stored data).")
    var readData = false

    @Flag(help: "Print one JSON object on stdout; progress as JSON lines on stderr (docs/CLI.md).")
    var json = false

    @OptionGroup var selection: FileSelection

    func run() async throws {
        let progress = CommandProgress(action: "check", options: display, json: json, totalsGiven: true)
        exitOnInterrupt(progress: progress) { "nothing was changed (check only reads)" }
        let report = try await reportingFailures {
            try await withSession(options) { session in
                progress.start()
                return try await CheckOperation(session).run(names: selection.names, readData: readData,
                                                             progress: progress.model)
            }
        }
        progress.finish { s in "checked " + CommandProgress.counts(s, bytes: false)
            + (readData ? ", " + ByteCount.humanReadable(Int(clamping: s.bytesDone)) + " verified" : "") }
        if json {
            printJSON(report)
        } else {
            for file in report.files {
                let state = (file.removed ? "removed" : file.health.rawValue).padding(toLength: 12, withPad: " ", startingAt: 0)
                print("\(state)\(displayed(file.name))" + (file.problems.isEmpty ? "" : ": " + file.problems.joined(separator: "; ")))
            }
            for id in report.unopenedManifests ?? [] { print(Self.unopenedManifestLine(id)) }
            var counts = [FileHealth: Int]()
            for file in report.files { counts[file.health, default: 0] += 1 }
            var summary = "checked \(report.files.count) file\(report.files.count == 1 ? "" : "s")"
                + (report.readData ? " (every replica read)" : "") + ": "
                + FileHealth.allCases.map { "\(counts[$0] ?? 0) \($0.rawValue)" }.joined(separator: ", ")
            if !report.unreachableNodes.isEmpty { summary += "; not answering: " + report.unreachableNodes.joined(separator: ",") }
            if let unopened = report.unopenedManifests, !unopened.isEmpty {
                summary += "; \(unopened.count) manifest(s) that open nowhere"
            }
            if let orphans = report.orphanObjects, orphans > 0 {
                summary += "; \(orphans) object(s) of no file (\(ByteCount.humanReadable(Int(clamping: report.orphanBytes ?? 0))))"
            }
            print(summary)
            if report.worst != .healthy {
                // Corruption found by reading every replica is found again only by a repair that reads them.
                printError("not every file is healthy: run edfs repair" + (report.readData ? " --read-data" : ""))
            }
        }
        let code = ExitStatus.code(for: report.worst)
        if code != 0 { throw ExitCode(code) }
    }

    /// The line `check` and `repair` print for a manifest no copy of which opens (`CheckReport.unopenedManifests`).
    static func unopenedManifestLine(_ id: String) -> String {
        "damaged     manifest \(id): no copy opens with this user's keys (a file damaged on every node, its name "
            + "unknown, or copies a node made up); nothing to repair it from"
    }
}

/// Prints `value` as sorted, indented JSON on standard output.
func printJSON(_ value: some Encodable) {
    let encoder = JSONEncoder()
    encoder.outputFormatting = [.sortedKeys, .prettyPrinted]
    if let data = try? encoder.encode(value) { print(String(decoding: data, as: UTF8.self)) }
}
