import ArgumentParser
import EDFSClient
import EDFSCrypto
import EDFSFormat
import Foundation
import Synchronization
#if canImport(Glibc)
import Glibc
#endif

struct KeyExportCommand: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "export", abstract: "Write the key bundle to a file under a separate passphrase (mode 0600).")

    @OptionGroup var options: ClientOptions

    @Option(help: "The file to write (must not exist).")
    var out: String

    @Option(help: "Read the export passphrase from this file (first line); default: $EDFS_EXPORT_PASSPHRASE, or ask.")
    var passphraseFile: String?

    func run() async throws {
        try await reportingFailures {
            exitOnInterrupt { "nothing was changed on the nodes; a key file, if one was begun, is incomplete: remove it" }
            let passphrase = try exportPassphrase(file: passphraseFile, confirm: true)
            let config = try options.loadConfig()
            let bytes = try await withSession(options) { session in
                try KeyExport(session).run(passphrase: passphrase, kdfIterations: try options.kdfIterations(config))
            }
            try writeNewPrivateFile(out, bytes)
            print("wrote the key bundle to \(out) (keep it and its passphrase apart)")
        }
    }
}
