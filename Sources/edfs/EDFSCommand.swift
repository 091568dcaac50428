import ArgumentParser

/// The one executable: argument parsing and presentation only; the work happens in the libraries.
@main
struct EDFSCommand: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "edfs",
        abstract: "Encrypted, distributed chunk store: client-side AES-256-GCM, ciphertext-only TLS storage nodes.",
        subcommands: [
            PutCommand.self, GetCommand.self, ListCommand.self, RemoveCommand.self,
            PasswdCommand.self, KeyCommand.self, UserCommand.self,
            DemoCommand.self, ClusterCommand.self, BenchCommand.self, CertsCommand.self, NodeCommand.self,
        ]
    )
}
