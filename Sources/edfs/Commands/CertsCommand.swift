import ArgumentParser
import EDFSCrypto
import Foundation

/// `edfs certs …`: development certificates.
struct CertsCommand: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "certs",
        abstract: "Development certificates.",
        subcommands: [CertsInitCommand.self]
    )
}
