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

    @Flag(help: "Also give every file a new data key and file id, rewriting every object.")
    var reencrypt = false

    @Flag(help: "Finish an interrupted rotation (running the command again does the same).")
    var resume = false

    func run() async throws {
        try await reportingFailures {
            let crashAfter = ProcessInfo.processInfo.environment["EDFS_TEST_CRASH_AFTER_FILES"].flatMap(Int.init)
            let counter = FileCounter()
            let quiet = options.quiet
            let report: RotationReport? = try await withSession(options) { session in
                if resume && !session.keyStatus.rotationUnfinished {
                    return nil  // --resume with nothing to resume does nothing
                }
                return try await KeyRotation(session).run(reencrypt: reencrypt) { name in
                    let done = counter.increment()
                    if !quiet { printUnbuffered("rotated \(displayed(name))") }  // each line out before anything else happens
                    // Test hook: die like kill -9 right after the N-th file, to prove a rotation resumes.
                    if let crashAfter, done >= crashAfter { kill(getpid(), SIGKILL) }
                }
            }
            guard let report else {
                print("no unfinished key rotation; nothing to do")
                return
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
