import ArgumentParser
import EDFSCrypto
import Foundation

/// `edfs certs …`: a CA and node certificates (development clusters, or real hosts with `certs node --hosts`).
struct CertsCommand: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "certs",
        abstract: "A CA and node certificates: for local clusters (init) or for nodes on real hosts (node --hosts).",
        subcommands: [CertsInitCommand.self, CertsNodeCommand.self]
    )
}
