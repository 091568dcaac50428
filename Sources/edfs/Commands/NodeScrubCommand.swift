import ArgumentParser
import EDFSClient
import EDFSFormat
import EDFSNode
import Foundation

/// `edfs node scrub`: checks every stored file of a stopped node's data folder, quarantines the corrupt ones and
/// collects orphans (docs/STORAGE.md). Exit 0 when every file checked out, 65 when some did not.
struct NodeScrubCommand: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "scrub",
        abstract: "Check a stopped node's data folder, quarantine corrupt files, reclaim orphans.",
        usage: "edfs node scrub --data DIR [--grace 24h] [--json]",
        discussion: """
            Reads every block of every object, manifest and stored key file against its checksum; moves each corrupt or truncated file \
            into DIR/quarantine/; removes objects no manifest on this node names and temporary files, when older than \
            --grace. Refuses a folder a running node serves. Exit 0: clean; 65: corruption found.

            Examples:
              edfs node scrub --data /var/lib/edfs/DFS1
              edfs node scrub --data /var/lib/edfs/DFS1 --grace 0s --json
            """)

    @OptionGroup var dataOption: NodeDataOption

    @Option(help: "Only objects and temporary files older than this are removed (30s, 5m, 24h).")
    var grace: String = "24h"

    @Flag(help: "Print the report as JSON.")
    var json = false

    func run() async throws {
        guard let data = dataOption.data else { throw ValidationError("Missing expected argument '--data <data>'") }
        guard let period = DurationText.parse(grace) else {
            throw ValidationError("bad --grace \"\(grace)\" (a time such as 30s, 5m or 24h)")
        }
        let report: ScrubReport
        do {
            report = try DataFolderScrub.run(path: data, options: .full(gracePeriod: period))
        } catch {
            switch error {
            case .notADataFolder:
                printError("\(error.description): give the --data folder of an edfs node")
                throw ExitCode(ExitStatus.noInput)
            case .nodeRunning:
                printError(error.description)
                throw ExitCode(ExitStatus.unavailable)
            case .store:
                printError("scrub of \(data) failed: \(error.description)")
                throw ExitCode(ExitStatus.failure)
            }
        }
        if json {
            let encoder = JSONEncoder()
            encoder.outputFormatting = [.sortedKeys]
            print(String(decoding: try encoder.encode(report), as: UTF8.self))
        } else {
            print(Self.text(report, data: data))
        }
        if !report.isClean { throw ExitCode(ExitStatus.dataError) }
    }

    /// The report for people, one fact a line.
    static func text(_ report: ScrubReport, data: String) -> String {
        var lines = ["scrubbed \(displayed(data)) in \(String(format: "%.2f", report.durationSeconds)) s",
                     "checked:     \(report.filesChecked) files, \(ByteCount.humanReadable(Int(clamping: report.bytesChecked)))",
                     "corrupt:     \(report.corrupt.count)"]
        for path in report.corrupt { lines.append("  \(displayed(path))") }
        lines.append("quarantined: \(report.quarantined.count)")
        for path in report.quarantined { lines.append("  \(displayed(path))") }
        lines.append("orphans:     \(report.orphansReclaimed.count) reclaimed, "
                     + ByteCount.humanReadable(Int(clamping: report.orphanBytes)))
        lines.append("temporaries: \(report.temporariesReclaimed) reclaimed, "
                     + ByteCount.humanReadable(Int(clamping: report.temporaryBytes)))
        for skipped in report.collectionSkipped { lines.append("gc skipped:  \(displayed(skipped))") }
        lines.append("result:      " + (report.isClean ? "clean" : "CORRUPT"))
        return lines.joined(separator: "\n")
    }
}
