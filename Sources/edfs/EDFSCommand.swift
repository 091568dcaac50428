import ArgumentParser
import EDFSClient
import EDFSCrypto
import EDFSFormat
import Foundation
#if canImport(Glibc)
import Glibc
#endif

/// The one executable: argument parsing and presentation only; the work happens in the libraries.
@main
struct EDFSCommand: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "edfs",
        abstract: "Encrypted, distributed chunk store: client-side AES-256-GCM, ciphertext-only TLS storage nodes.",
        discussion: """
            Files are encrypted on this machine before they leave it; the nodes keep only ciphertext. Every command \
            takes --help; docs/CLI.md (and the man page, man -l docs/edfs.1) lists every option and exit code.

            Examples:
              edfs cluster up --dir "$PWD/cluster"         a local 4-node cluster
              export EDFS_CONFIG="$PWD/cluster/dfc.conf"
              edfs put report.pdf photos                   a file and a folder
              edfs ls -l                                   sizes, times, health
              edfs get -r photos -o restored               a folder back
            """,
        version: SoftwareVersion.text,
        subcommands: [
            PutCommand.self, GetCommand.self, ListCommand.self, RemoveCommand.self, MoveCommand.self, MakeFolderCommand.self,
            RemoveFolderCommand.self, CheckCommand.self, RepairCommand.self,
            StatusCommand.self,
            MountCommand.self,
            PasswdCommand.self, KeyCommand.self, UserCommand.self,
            DemoCommand.self, ClusterCommand.self, BenchCommand.self, CertsCommand.self, NodeCommand.self,
        ]
    )

    /// Parses and runs; a usage error is one line on stderr (`edfs: <what>: <what to do>`) and exit 64, like every
    /// other failure (docs/CLI.md); help goes to stdout with exit 0.
    static func main() async {
        keepLibcryptoUntilExit()  // an exit while workers still use libcrypto must not free it under them
        let arguments = Array(CommandLine.arguments.dropFirst())
        do {
            var command = try parseAsRoot(arguments)
            if var runnable = command as? any AsyncParsableCommand {
                try await runnable.run()
            } else {
                try command.run()
            }
            PartialOutputs.shared.holdIfInterrupted()
        } catch let exit as ExitCode {
            PartialOutputs.shared.holdIfInterrupted()  // an interrupt under way decides the exit status (130)
            Glibc.exit(exit.rawValue)  // already reported by the command
        } catch {
            PartialOutputs.shared.holdIfInterrupted()
            let code = exitCode(for: error)
            if code == .success {
                print(fullMessage(for: error))
                Glibc.exit(0)
            }
            var reason = oneLine(self.message(for: error))
            // The parser's own guess ("--out" → "--quiet") is replaced by the nearest name by edit distance or prefix.
            if let guess = reason.range(of: ". Did you mean") { reason = String(reason[..<guess.lowerBound]) }
            let (path, command) = commandPath(arguments)
            reason += Suggestions.didYouMean(reason, command: command)
            printError("\(reason): see \(path) --help")
            Glibc.exit(code.rawValue == 0 ? ExitStatus.usage : code.rawValue)
        }
    }

    /// The parser's message as one line: its first line, with a list of allowed values that follows it folded in
    /// ("… Please provide one of the following:\n  - 'trace'\n …" → "…: use one of trace, debug, …").
    private static func oneLine(_ message: String) -> String {
        let lines = message.split(separator: "\n").map { $0.trimmingCharacters(in: .whitespaces) }
        var first = lines.first ?? "invalid arguments"
        if first.hasPrefix("Error: ") { first = String(first.dropFirst(7)) }
        let choices = lines.dropFirst().filter { $0.hasPrefix("- ") }
            .map { $0.dropFirst(2).trimmingCharacters(in: CharacterSet(charactersIn: "'")) }
        guard first.hasSuffix(":"), !choices.isEmpty else { return first }
        if let list = first.range(of: ". Please provide one of the following:") {
            return String(first[..<list.lowerBound]) + ": use one of " + choices.joined(separator: ", ")
        }
        return String(first.dropLast()) + " " + choices.joined(separator: ", ")
    }

    /// "edfs key rotate" and its type, for the known subcommands the arguments start with.
    private static func commandPath(_ arguments: [String]) -> (String, any ParsableCommand.Type) {
        var path = ["edfs"]
        var current: any ParsableCommand.Type = EDFSCommand.self
        for argument in arguments {
            guard let next = current.configuration.subcommands.first(where: { $0.configuration.commandName == argument })
            else { break }
            path.append(argument)
            current = next
        }
        return (path.joined(separator: " "), current)
    }

}
