import ArgumentParser
import EDFSCrypto
import Foundation

/// `edfs certs node NAME --hosts …`: one node's certificate for a deployment, valid for that node's own names.
struct CertsNodeCommand: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "node",
        abstract: "Write <NAME>.crt and <NAME>.key for one node, valid for exactly the given host names and IPs.",
        discussion: """
            The certificate is signed by ca.crt/ca.key in --dir; a folder without a CA gets a new one first. \
            --hosts must name every DNS name and IP address that Server lines use for this node (clients check it). \
            Existing files of the node are refused (exit 73) unless --force. Keys are written with mode 0600.

            Examples (four nodes on four hosts; docs/DEPLOY.md):
              edfs certs node DFS1 --dir Keys --hosts dfs1.example.net,198.18.0.11
              edfs certs node DFS2 --dir Keys --hosts dfs2.example.net,198.18.0.12
            """
    )

    @Argument(help: "The node's name, as in its Server line (also the files' stem).")
    var name: String

    @Option(name: .long, help: "Folder holding ca.crt and ca.key (created with mode 0700 if missing).")
    var dir = "Keys"

    @Option(name: .long, help: "Comma-separated DNS names and IP addresses of this node, e.g. dfs1.example.net,198.18.0.11.")
    var hosts: String

    @Flag(name: .long, help: "Replace the node's existing certificate and key (never the CA).")
    var force = false

    func run() throws {
        let list = hosts.split(separator: ",", omittingEmptySubsequences: false)
            .map { $0.trimmingCharacters(in: .whitespaces) }
            .filter { !$0.isEmpty }
        do {
            let report = try DevelopmentPKI.issueNode(directory: dir, name: name, hosts: list, force: force)
            if report.reusedCA { print("using existing CA \(DevelopmentPKI.caCertificatePath(directory: dir))") }
            for path in report.written { print("wrote \(path)") }
            print("\(name) is valid for: \(list.joined(separator: ", "))")
        } catch let error as PKIError {
            let code: Int32
            switch error {
            case .exists: code = 73
            default: code = error.isUsageError ? 64 : 1
            }
            FileHandle.standardError.write(Data("edfs: certs node: \(error.description)\n".utf8))
            throw ExitCode(code)
        }
    }
}
