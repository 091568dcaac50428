import ArgumentParser
import EDFSClient
import EDFSFormat
import Foundation

/// `edfs mkdir PATH…`
struct MakeFolderCommand: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "mkdir", abstract: "Make stored folders (and the folders above them), which exist while empty.",
        discussion: """
            Examples:
              edfs mkdir albums/2026
              edfs mkdir inbox outbox
            """)

    @OptionGroup var options: ClientOptions

    @Argument(help: "Folder paths.")
    var paths: [String]

    func validate() throws {
        guard !paths.isEmpty else { throw ValidationError("name at least one folder") }
    }

    func run() async throws {
        try await reportingFailures {
            exitOnInterrupt { "the folders reported made are made; run edfs mkdir again for the rest" }
            try await withSession(options) { session in
                for typed in paths {
                    let path = StoredPath.trimmed(typed)
                    let made = try await FolderOperation(session).make(path)
                    print(made ? "made the folder \(displayed(path))" : "\(displayed(path)) is already a folder")
                }
            }
        }
    }
}

/// `edfs rmdir PATH…`
struct RemoveFolderCommand: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "rmdir", abstract: "Remove empty stored folders (edfs rm -r removes full ones).",
        discussion: """
            Examples:
              edfs rmdir albums/2026
            """)

    @OptionGroup var options: ClientOptions

    @Argument(help: "Folder paths.")
    var paths: [String]

    func validate() throws {
        guard !paths.isEmpty else { throw ValidationError("name at least one folder") }
    }

    func run() async throws {
        try await reportingFailures {
            exitOnInterrupt { "the folders reported removed are removed; run edfs rmdir again for the rest" }
            try await withSession(options) { session in
                for typed in paths {
                    let path = StoredPath.trimmed(typed)
                    try await FolderOperation(session).remove(path)
                    print("removed the folder \(displayed(path))")
                }
            }
        }
    }
}
