import ArgumentParser
import Dispatch
import EDFSClient
import EDFSCrypto
import EDFSDevTools
import EDFSFormat
import Foundation
import Synchronization

struct ClusterUpCommand: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "up",
        abstract: "Certificates, node configs and N node processes on loopback; Ctrl-C stops them all.")

    @Option(help: "Number of nodes.") var nodes = 4
    @Option(help: "Replicas per stripe.") var replicas = 2
    @Option(help: "Folder for certificates, configs, node data and logs.") var dir = "cluster"
    @Option(help: "Port of the first node; node i listens on base-port + i.") var basePort = 10001
    @Option(help: "The user to create.") var user = "demo"
    @Option(help: "Read the user's password from this file.") var passwordFile: String?
    @Flag(help: "Read the user's password from standard input.") var passwordStdin = false

    func validate() throws {
        guard (1...64).contains(nodes) else { throw ValidationError("--nodes must be 1 to 64") }
        guard (1...nodes).contains(replicas) else { throw ValidationError("--replicas must be 1 to --nodes (\(nodes))") }
        guard basePort >= 1, basePort + nodes - 1 <= 65535 else {
            throw ValidationError("--base-port must leave room for \(nodes) ports below 65536")
        }
        guard NameRules.isValidUserName(user) else { throw ValidationError("--user: \"\(user)\" is not a valid user name") }
    }

    func run() async throws {
        try await reportingFailures {
            // Absolute, so that what is printed below works after any cd.
            let dir = URL(fileURLWithPath: dir).standardizedFileURL.path
            let environment = ProcessInfo.processInfo.environment
            let password = try PasswordSource.choose(file: passwordFile, standardInput: passwordStdin, environment: environment,
                                                     prompt: "Password for new user \(user): ").read(environment: environment)
            var options = LocalCluster.Options(directory: dir)
            options.nodes = nodes
            options.replicas = replicas
            options.basePort = basePort
            options.user = user
            let cluster = try LocalCluster(options: options, executable: currentExecutable(), password: password)
            try cluster.start()
            // Unbuffered: whoever reads the output (a script, a log file) sees it now, not when the cluster stops.
            printUnbuffered("edfs cluster: \(nodes) nodes up; client config \(cluster.clientConfigPath):")
            printUnbuffered(try String(contentsOfFile: cluster.clientConfigPath, encoding: .utf8))
            printUnbuffered("use it with: edfs put FILE --config \(cluster.clientConfigPath)   (Ctrl-C stops the cluster)")
            await waitForInterrupt()
            cluster.stop()
            print("edfs cluster: stopped")
        }
    }
}
