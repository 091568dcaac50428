import ArgumentParser
import EDFSClient
import EDFSCrypto
import EDFSFormat
import Foundation
import Synchronization
#if canImport(Glibc)
import Glibc
#endif

struct KeyStatusCommand: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "status", abstract: "Key generation, password derivation and rotation state.",
        discussion: """
            Examples:
              edfs key status
            """)

    @OptionGroup var options: ClientOptions

    @Flag(help: "Print JSON.")
    var json = false

    func run() async throws {
        try await reportingFailures {
            exitOnInterrupt { "nothing was changed" }
            let status = try await withSession(options) { $0.keyStatus }
            if json {
                let encoder = JSONEncoder()
                encoder.outputFormatting = [.sortedKeys]
                print(String(decoding: try encoder.encode(status), as: UTF8.self))
                return
            }
            print("key generation: \(status.epoch)")
            print("locked keys:    revision \(status.revision), \(status.kdf), \(status.iterations) iterations")
            if status.rotationUnfinished {
                print("rotation:       UNFINISHED from generation \(status.epochs.last ?? 0) to \(status.epoch)"
                      + (status.reencrypting ? " with re-encryption" : "") + "; run edfs key rotate to finish it")
            } else {
                print("rotation:       none in progress")
            }
        }
    }
}
