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
            try await withSession(options) { session in
                for folder in folders { try await FolderOperation(session).make(folder.name, mode: folder.mode) }
                for item in items {
                    let progress = options.progress("put \(item.name)", total: item.size)
                    defer { progress?.finish() }
                    let result = try await PutOperation(session).run(file: item.path, as: item.name, progress: progress)
                    var line = "stored \(displayed(result.name)) (\(ByteCount.humanReadable(Int(clamping: result.size))), version \(result.version))"
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
