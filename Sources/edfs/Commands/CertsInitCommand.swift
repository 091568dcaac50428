import ArgumentParser
import EDFSCrypto
import Foundation

/// `edfs certs init`: a development CA and one certificate and key per node, all valid for the same hosts.
struct CertsInitCommand: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "init",
        abstract: "Write a development CA (ca.crt, ca.key) and <NAME>.crt, <NAME>.key for each node.",
        discussion: """
            An existing CA is reused to issue new node certificates and is never replaced without --force. \
            Existing node files are kept unless --force is given. Keys are written with mode 0600. For nodes on \
            real hosts, use edfs certs node NAME --hosts instead (docs/DEPLOY.md).

            Examples:
              edfs certs init
              edfs certs init --dir Keys --force
            """
    )

    @Option(name: .long, help: "Folder for the files (created with mode 0700 if missing).")
    var dir = "Keys"

    @Option(name: .long, help: "Comma-separated node names, e.g. DFS1,DFS2,DFS3,DFS4.")
    var nodes: String

    @Option(name: .long, help: "Comma-separated IP addresses and DNS names every node certificate is valid for.")
    var hosts = DevelopmentPKI.defaultHosts.joined(separator: ",")

    @Flag(name: .long, help: "Make a new CA and replace existing node files.")
    var force = false

    func run() throws {
        let nodeNames = Self.list(nodes)
        guard !nodeNames.isEmpty else {
            throw Self.failure("--nodes needs at least one node name, e.g. --nodes DFS1,DFS2", 64)
        }
        do {
            let report = try DevelopmentPKI.generate(directory: dir, nodeNames: nodeNames, hosts: Self.list(hosts),
                                                     force: force)
            if report.reusedCA {
                print("using existing CA \(DevelopmentPKI.caCertificatePath(directory: dir))")
            }
            for path in report.written { print("wrote \(path)") }
            for path in report.kept { print("kept \(path) (exists; --force replaces it)") }
        } catch let error as PKIError {
            throw Self.failure(error.description, error.isUsageError ? 64 : 1)
        }
    }

    /// Comma-separated items, whitespace around each trimmed; an empty option gives no items.
    private static func list(_ text: String) -> [String] {
        guard !text.trimmingCharacters(in: .whitespaces).isEmpty else { return [] }
        return text.split(separator: ",", omittingEmptySubsequences: false)
            .map { $0.trimmingCharacters(in: .whitespaces) }
    }

    /// Prints one line on stderr and gives the exit status to throw.
    private static func failure(_ message: String, _ code: Int32) -> ExitCode {
        FileHandle.standardError.write(Data("edfs: certs init: \(message)\n".utf8))
        return ExitCode(code)
    }
}
