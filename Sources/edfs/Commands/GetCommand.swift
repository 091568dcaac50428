import ArgumentParser
import EDFSClient
import EDFSFormat
import Foundation

/// `edfs get NAME [-o PATH]`
struct GetCommand: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "get", abstract: "Fetch, verify and decrypt a stored file; it appears only when complete.")

    @OptionGroup var options: ClientOptions

    @Option(name: .shortAndLong, help: "Output path (\"-\" for standard output; default: the name's last component).")
    var output: String?

    @Flag(help: "Flush the output to disk before returning (the nodes keep the durable copy either way).")
    var sync = false

    @Flag(help: "Replace an existing file, or write through a symbolic link.")
    var force = false

    @Flag(help: "Do not replace a corrupt or missing replica met on the way (heal on read).")
    var noHeal = false

    @Argument(help: "The stored name.")
    var name: String

    func run() async throws {
        try await reportingFailures {
            let destination: GetDestination
            if let output {
                destination = try OutputTarget.resolve(output, name: name, force: force)
            } else {
                let last = try OutputTarget.localName(of: name)
                destination = try OutputTarget.resolve(last, name: name, force: force)
            }
            removePartialOutputsOnInterrupt()
            try await withSession(options) { session in
                let progress = destination == .standardOutput ? nil : options.progress("get \(name)", total: 0)
                defer { progress?.finish() }
                let record = try await GetOperation(session).run(name: name, to: destination, sync: sync, progress: progress,
                                                                  heal: !noHeal)
                switch destination {
                case let .file(path), let .stream(path):
                    printError("wrote \(path) (\(ByteCount.humanReadable(Int(clamping: record.body.size))))")
                case .standardOutput:
                    break
                }
            }
        }
    }
}
