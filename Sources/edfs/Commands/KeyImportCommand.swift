import ArgumentParser
import EDFSClient
import EDFSCrypto
import EDFSFormat
import Foundation
import Synchronization
#if canImport(Glibc)
import Glibc
#endif

struct KeyImportCommand: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "import", abstract: "Put exported keys back on every node, locked with your password.",
        discussion: """
            Examples:
              edfs key import edfs-keys.backup
            """)

    @OptionGroup var options: ClientOptions

    @Option(help: "Read the export passphrase from this file (first line); default: $EDFS_EXPORT_PASSPHRASE, or ask.")
    var passphraseFile: String?

    @Argument(help: "The file written by edfs key export.")
    var file: String

    func run() async throws {
        try await reportingFailures {
            exitOnInterrupt { "the import may have reached some nodes: run edfs key import again to finish it" }
            guard let data = FileManager.default.contents(atPath: file) else {
                throw ClientError.noSuchFile("\(file): cannot read it")
            }
            guard data.count <= 64 << 10 else { throw ClientError.usage("\(file) is not an edfs key file (too large)") }
            let passphrase = try exportPassphrase(file: passphraseFile, confirm: false)
            let config = try options.loadConfig()
            let user = try options.userName(config)
            let password = try options.passwordSource(prompt: "Password for \(user): ")
                .read(environment: ProcessInfo.processInfo.environment)
            let derivation = PasswordDerivation(password: password)
            let links = try await ClusterLinks.connect(
                config: config, user: user,
                connectors: [NodeConnection.connector(config: config, user: user, derivation: derivation)],
                notices: options.notices())
            defer { Task { await links.close() } }
            let status = try await KeyImport(links: links, user: user).run(exported: Array(data), passphrase: passphrase,
                                                                           derivation: derivation,
                                                                           kdfIterations: try options.kdfIterations(config))
            await links.close()
            print("imported the keys of key generation \(status.epoch) for \(user) on \(config.servers.count) node(s)")
        }
    }
}
