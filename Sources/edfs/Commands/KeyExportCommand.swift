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
        commandName: "export", abstract: "Write your keys to a file, locked with a separate passphrase (mode 0600).",
        discussion: """
            The backup that brings your files back if every node lost your keys, or you forget the password. Keep \
            the file and its passphrase apart.

            Examples:
              edfs key export -o edfs-keys.backup
              edfs key import edfs-keys.backup
            """)

    @OptionGroup var options: ClientOptions

    @Option(name: .shortAndLong, help: "The file to write (must not exist).")
    var output: String?

    /// The earlier spelling of `--output`, still accepted.
    @Option(name: .customLong("out"), help: .hidden)
    var legacyOutput: String?

    func validate() throws {
        guard (output == nil) != (legacyOutput == nil) else {
            throw ValidationError("name the file to write once, with -o FILE")
        }
    }

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
            let path = output ?? legacyOutput ?? ""
            try writeNewPrivateFile(path, bytes)
            print("wrote your keys to \(path) (keep it and its passphrase apart)")
        }
    }
}
