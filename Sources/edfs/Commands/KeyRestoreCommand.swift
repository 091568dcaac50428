import ArgumentParser
import EDFSClient
import EDFSCrypto
import EDFSFormat
import Foundation

/// `edfs key restore [--list] [--json]`
struct KeyRestoreCommand: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "restore",
        abstract: "Put back the newest stored keys that open with your password, from the nodes' history.",
        discussion: """
            For when a node (or someone holding a legacy MD5 password line) replaced your password-locked keys with \
            ones that do not open. Every node keeps the last 8 it accepted; the newest that opens with your password \
            is stored again, above every revision the nodes hold. --list only shows what the nodes hold.

            Examples:
              edfs key restore --list
              edfs key restore
            """)

    @OptionGroup var options: ClientOptions

    @Flag(help: "Only list the locked keys found (current and in the nodes' histories); change nothing.")
    var list = false

    @Flag(help: "Print the result as JSON.")
    var json = false

    func run() async throws {
        try await reportingFailures {
            exitOnInterrupt { "the keyslot may have been stored again on some nodes: run edfs key restore again to finish" }
            let config = try options.loadConfig()
            let user = try options.userName(config)
            let password = try options.passwordSource(prompt: "Password for \(user): ")
                .read(environment: ProcessInfo.processInfo.environment)
            let derivation = PasswordDerivation(password: password)
            let notices = options.notices()
            let links = try await ClusterLinks.connect(
                config: config, user: user,
                connectors: [NodeConnection.connector(config: config, user: user, derivation: derivation)],
                notices: notices)
            defer { Task { await links.close() } }
            let report = try await KeyRestore(links: links, user: user, notices: notices)
                .run(derivation: derivation, kdfIterations: try options.kdfIterations(config), dryRun: list)
            await links.close()
            if json {
                let encoder = JSONEncoder()
                encoder.outputFormatting = [.sortedKeys, .prettyPrinted]
                print(String(decoding: try encoder.encode(report.found), as: UTF8.self))
            } else {
                for slot in report.found {
                    print("revision \(slot.revision)  generation \(slot.epoch)  \(slot.current ? "current" : "history")  "
                          + "on \(slot.nodes.joined(separator: ","))")
                }
            }
            if let revision = report.storedAs {
                printError("restored the locked keys of revision \(report.opened) as revision \(revision) on "
                           + report.storedOn.joined(separator: ","))
            } else {
                printError("the newest locked keys that open are revision \(report.opened); nothing was changed")
            }
        }
    }
}
