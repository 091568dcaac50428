import ArgumentParser
import EDFSClient
import EDFSFormat
import Foundation

/// `edfs mv OLD NEW [--force]`
struct MoveCommand: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "mv", abstract: "Rename a stored file or folder (metadata only: no data is rewritten).",
        discussion: """
            When NEW is an existing folder, OLD moves into it, keeping its last name (as mv does). An interrupted \
            folder move is finished by running it again with -T.

            Examples:
              edfs mv report.pdf 2026/report.pdf
              edfs mv photos albums                  into albums/ when it is a folder
              edfs mv -T photos albums/photos        finish an interrupted move (merge)
            """)

    @OptionGroup var options: ClientOptions

    @Flag(help: "Replace an existing file at NEW (or, with -T, existing files inside it).")
    var force = false

    @Flag(name: [.customShort("T"), .customLong("no-target-directory")],
          help: "NEW is the name itself even when it is an existing folder: a folder's files are merged into it (how an interrupted folder move is finished).")
    var merge = false

    @Argument(help: "The stored file or folder to rename.")
    var source: String

    @Argument(help: "Its new name, or an existing folder to move it into.")
    var target: String

    func run() async throws {
        try await reportingFailures {
            exitOnInterrupt { "a move is safe to interrupt: run the same edfs mv again to finish it (a folder: edfs mv -T)" }
            let from = StoredPath.trimmed(source)
            var to = StoredPath.trimmed(target)
            try await withSession(options) { session in
                let listing = Namespace(try await ListOperation(session).run())
                if to.isEmpty || (!merge && listing.kind(of: to)?.isFolder == true) {
                    to = StoredPath.join(to, StoredPath.lastComponent(of: from))
                }
                // Test hook: die like kill -9 right after step N of the first file's move, to prove a move is safe to
                // interrupt anywhere.
                let crashAfter = ProcessInfo.processInfo.environment["EDFS_TEST_CRASH_MOVE_AFTER_STEP"].flatMap(Int.init)
                let move = MoveOperation(session) { _, step in
                    if let crashAfter, step >= crashAfter { kill(getpid(), SIGKILL) }
                }
                let count = try await move.run(from: from, to: to, replace: force, merge: merge, namespace: listing)
                print("moved \(displayed(from)) to \(displayed(to))" + (listing.kind(of: from)?.isFolder == true ? " (\(count) file(s))" : ""))
            }
        }
    }
}
