import ArgumentParser
import EDFSClient
import EDFSFormat
import Foundation

/// `edfs repair [NAME…] [--dry-run] [--read-data] [--json]`
struct RepairCommand: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "repair",
        abstract: "Bring every file back to its full set of good replicas and every node to the newest manifest.",
        discussion: """
            Copies a replica that verifies over missing, short or corrupt ones (ciphertext, node to node through \
            this client), gives every node the newest manifest or removal, and removes older versions' objects once \
            every node holds the newest. Safe to run while others put and get; run it again to resume. Exit codes as \
            for edfs check, judged after the repair.

            Examples:
              edfs repair --dry-run                  say what would be done
              edfs repair                            every file
              edfs repair --read-data photos/a.jpg   also replace replicas that fail verification
            """)

    @OptionGroup var options: ClientOptions
    @OptionGroup var display: ProgressOptions

    @Flag(help: "Say what would be done; change nothing.")
    var dryRun = false

    @Flag(help: "Read every replica and verify every GCM tag first, so corrupt ones are found and replaced too.")
    var readData = false

    @Flag(help: "Print one JSON object on stdout; progress as JSON lines on stderr (docs/CLI.md).")
    var json = false

    @OptionGroup var selection: FileSelection

    func run() async throws {
        let progress = CommandProgress(action: "repair", options: display, json: json, totalsGiven: true)
        progress.model.startPhase("check")
        exitOnInterrupt(progress: progress) {
            "replicas and manifests copied so far stay; run edfs repair again to resume"
        }
        let report = try await reportingFailures {
            try await withSession(options) { session in
                progress.start()
                return try await RepairOperation(session).run(names: selection.names, readData: readData, dryRun: dryRun,
                                                              progress: progress.model)
            }
        }
        progress.finish { s in
            (dryRun ? "looked at " : "repaired ") + CommandProgress.counts(s, bytes: false)
                + (s.bytesDone > 0 ? ", " + ByteCount.humanReadable(Int(clamping: s.bytesDone)) + " copied" : "")
        }
        if json {
            printJSON(report)
        } else {
            let verb = dryRun ? "would copy" : "copied"
            for file in report.files {
                var parts = [String]()
                if !file.replicasCopied.isEmpty { parts.append("\(verb) " + file.replicasCopied.joined(separator: ", ")) }
                if !file.manifestsSpread.isEmpty {
                    parts.append((dryRun ? "would give the manifest to " : "gave the manifest to ")
                                 + file.manifestsSpread.joined(separator: ","))
                }
                if file.versionsRemoved > 0 { parts.append("removed \(file.versionsRemoved) older version(s)") }
                if !file.replicasFailed.isEmpty { parts.append("failed: " + file.replicasFailed.joined(separator: "; ")) }
                print("\(file.healthAfter.rawValue.padding(toLength: 12, withPad: " ", startingAt: 0))\(displayed(file.name)): "
                      + (parts.isEmpty ? "nothing to do" : parts.joined(separator: "; ")))
            }
            for id in report.unopenedManifests ?? [] { print(CheckCommand.unopenedManifestLine(id)) }
            let copied = report.files.reduce(0) { $0 + $1.replicasCopied.count }
            var summary = "\(dryRun ? "would repair" : "repaired") \(report.files.count) file(s), \(copied) replica(s) "
                + (dryRun ? "to copy" : "copied")
            if !report.unreachableNodes.isEmpty { summary += "; not answering: " + report.unreachableNodes.joined(separator: ",") }
            print(summary)
        }
        let code = ExitStatus.code(for: report.worst)
        if code != 0 { throw ExitCode(code) }
    }
}
