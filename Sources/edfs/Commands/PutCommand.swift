import ArgumentParser
import EDFSClient
import EDFSFormat
import Foundation

/// `edfs put FILE… [--as NAME] [--to FOLDER]`
struct PutCommand: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "put", abstract: "Encrypt files (directories recursively) and store them on the nodes.",
        discussion: """
            Naming follows rsync's trailing-slash rule: a file is stored under its last component ("put ./a/b.txt" \
            stores "b.txt"); a folder "photos" as "photos/…"; "photos/" stores what it holds. --to puts everything \
            inside a stored folder. Empty folders stay as empty stored folders. A put that fails leaves the previous \
            version of the name as it was.

            Examples:
              edfs put report.pdf                    stores "report.pdf"
              edfs put report.pdf --as 2026/q4.pdf   stores it as "2026/q4.pdf"
              edfs put photos                        stores "photos/…", the whole tree
              edfs put photos/ --to albums/2026      stores what photos holds inside "albums/2026"
            """)

    @OptionGroup var options: ClientOptions
    @OptionGroup var display: ProgressOptions

    @Flag(help: "Progress as JSON lines on stderr, a JSON line per stored file on stdout (docs/CLI.md).")
    var json = false

    @Option(name: .customLong("as"), help: "Store the one FILE under this name.")
    var name: String?

    @Option(name: .customLong("to"), help: "The stored folder to put everything into (default: the top).")
    var folder: String?

    @Argument(help: "Files or directories to store.")
    var files: [String]

    func validate() throws {
        guard !files.isEmpty else { throw ValidationError("name at least one file") }
        if name != nil && files.count != 1 { throw ValidationError("--as takes exactly one file") }
    }

    func run() async throws {
        try await reportingFailures {
            let (items, folders) = try LocalFiles.expand(files, as: name, into: StoredPath.trimmed(folder ?? ""))
            let progress = CommandProgress(action: "put", options: display, json: json, totalFiles: items.count,
                                           totalBytes: items.reduce(0) { $0 + $1.size }, totalsGiven: true)
            let commit = LockedValue(PutCommit())
            exitOnInterrupt(progress: progress) { PutCommit.interrupted(commit, progress.model.snapshot) }
            try await withSession(options) { session in
                progress.start()
                for folder in folders { try await FolderOperation(session).make(folder.name, mode: folder.mode) }
                for item in items {
                    progress.model.begin(item.name)
                    let result = try await PutOperation(session).run(
                        file: item.path, as: item.name, progress: progress.model,
                        committing: { PutCommit.starting(commit) })
                    commit.update { $0.committing = false }
                    progress.model.end(item.name)
                    if json {
                        printUnbuffered(CommandProgress.jsonLine(FileMessage(
                            messageType: "stored", name: result.name, size: result.size, version: result.version,
                            missingReplicas: result.missingReplicas.count)))
                    } else {
                        var line = "stored \(displayed(result.name)) (\(ByteCount.humanReadable(Int(clamping: result.size))), version \(result.version))"
                        if !result.missingReplicas.isEmpty {
                            line += "; degraded: \(result.missingReplicas.count) replica(s) missing, "
                                + "stripes \(Set(result.missingReplicas.map(\.stripe)).sorted().map(String.init).joined(separator: ","))"
                        }
                        printUnbuffered(line)
                    }
                }
            }
            progress.finish { "stored " + CommandProgress.counts($0) }
        }
    }
}

/// Whether a put's manifest commit is under way, so an interrupt can say what it left: before the commit the file's
/// previous version is untouched; once an interrupt is under way no commit starts.
struct PutCommit: Sendable {
    var committing = false
    var interrupted = false

    /// Called right before a commit starts: parks the put for good when an interrupt is under way (the process is
    /// exiting, and its message said the file was not stored).
    static func starting(_ state: LockedValue<PutCommit>) {
        var park = false
        state.update { s in
            if s.interrupted { park = true } else { s.committing = true }
        }
        while park { pause() }
    }

    /// The interrupt's line: what was stored, and the state of the file under way.
    static func interrupted(_ state: LockedValue<PutCommit>, _ s: TransferProgress.Snapshot) -> String {
        var committing = false
        state.update { c in
            c.interrupted = true
            committing = c.committing
        }
        var text = "\(s.filesDone) of \(s.totalFiles) file\(s.totalFiles == 1 ? "" : "s") stored"
        if let name = s.current.first {
            text += committing
                ? "; \(displayed(name)) was being committed: a get returns its new or its previous version (run edfs repair to settle it)"
                : "; \(displayed(name)) was not stored, its previous version (if any) is intact"
        }
        return text + "; run the put again for the rest"
    }
}
