import ArgumentParser
import EDFSClient
import EDFSCrypto
import EDFSFormat
import Foundation
import Synchronization
#if canImport(Glibc)
import Glibc
#endif

struct KeyRotateCommand: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "rotate",
        abstract: "New keys: re-lock every file's key (metadata only), or with --reencrypt rewrite all data.",
        discussion: """
            Each rotation starts a new key generation. Without --reencrypt, every file's own key is locked again \
            under the new master key (fast; someone who copied an old master key and the stored data could still \
            read it). --reencrypt gives every file new keys and rewrites all its data. Needs every node. Safe to \
            interrupt: run it again (or with --resume) to finish.

            Examples:
              edfs key rotate
              edfs key rotate --reencrypt
            """)

    @OptionGroup var options: ClientOptions
    @OptionGroup var display: ProgressOptions

    @Flag(help: "Progress as JSON lines on stderr, a JSON line per moved file on stdout (docs/CLI.md).")
    var json = false

    @Flag(help: "Also give every file a new data key and file id, rewriting every object.")
    var reencrypt = false

    @Flag(help: "Finish an interrupted rotation (running the command again does the same).")
    var resume = false

    func run() async throws {
        try await reportingFailures {
            let crashAfter = ProcessInfo.processInfo.environment["EDFS_TEST_CRASH_AFTER_FILES"].flatMap(Int.init)
            let pauseAfter = ProcessInfo.processInfo.environment["EDFS_TEST_PAUSE_AFTER_FILES"].flatMap(Int.init)
            let counter = FileCounter()
            let (quiet, json) = (display.quiet, json)
            let progress = CommandProgress(action: "rotate", options: display, json: json, totalsGiven: true)
            exitOnInterrupt(progress: progress) {
                let s = progress.model.snapshot
                return s.totalFiles == 0
                    ? "if the rotation had begun, edfs key status says so and edfs key rotate finishes it"
                    : "\(s.filesDone) of \(s.totalFiles) files moved to the new keys, every file still readable; "
                        + "run edfs key rotate again to finish it" + (reencrypt ? " (it stays a re-encryption)" : "")
            }
            let report: RotationReport? = try await withSession(options) { session in
                if resume && !session.keyStatus.rotationUnfinished {
                    return nil  // --resume with nothing to resume does nothing
                }
                progress.start()
                return try await KeyRotation(session).run(reencrypt: reencrypt, progress: progress.model) { name in
                    let done = counter.increment()
                    // Each line out before anything else happens.
                    if json {
                        printUnbuffered(CommandProgress.jsonLine(FileMessage(messageType: "rotated", name: name)))
                    } else if !quiet {
                        printUnbuffered("rotated \(displayed(name))")
                    }
                    // Test hook: die like kill -9 right after the N-th file, to prove a rotation resumes.
                    if let crashAfter, done >= crashAfter { kill(getpid(), SIGKILL) }
                    // Test hook: wait right after the N-th file for a signal (which ends the command), so an interrupt
                    // lands mid-rotation however fast the machine is.
                    if let pauseAfter, done >= pauseAfter { while true { pause() } }
                }
            }
            guard let report else {
                progress.stop()
                print("no unfinished key rotation; nothing to do")
                return
            }
            progress.finish { s in
                (s.bytesDone > 0 ? "re-encrypted " : "rotated ") + CommandProgress.counts(s, bytes: s.bytesDone > 0)
            }
            var line = "key generation \(report.epoch): \(report.rewrapped) re-wrapped, \(report.reencrypted) re-encrypted"
            if report.alreadyDone > 0 { line += ", \(report.alreadyDone) already done" }
            if report.resumed { line += " (resumed)" }
            print(line)
        }
    }
}

/// Counts files done; safe from any thread.
final class FileCounter: Sendable {
    private let count = Atomic<Int>(0)
    func increment() -> Int { count.wrappingAdd(1, ordering: .relaxed).newValue }
}
