import ArgumentParser
import Dispatch
import EDFSClient
import EDFSCrypto
import EDFSDevTools
import Foundation
import Synchronization

/// The path of the running `edfs` binary, to start node processes from.
func currentExecutable() -> URL {
    if let resolved = try? FileManager.default.destinationOfSymbolicLink(atPath: "/proc/self/exe") {
        return URL(fileURLWithPath: resolved)
    }
    return URL(fileURLWithPath: CommandLine.arguments[0]).resolvingSymlinksInPath()
}

/// `edfs cluster up`
struct ClusterCommand: AsyncParsableCommand {
    static let configuration = CommandConfiguration(commandName: "cluster", abstract: "Run a local cluster.",
                                                    subcommands: [ClusterUpCommand.self])
}

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

    func run() async throws {
        try await reportingFailures {
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

/// `edfs demo`
struct DemoCommand: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "demo",
        abstract: "A temporary 4-node cluster: put, ls, a byte-exact get, a node stopped, the get again.")

    func run() async throws {
        try await reportingFailures {
            print("edfs demo: an encrypted, replicated store on this machine, start to finish")
            try await Demo.run(executable: currentExecutable()) { print($0) }
            print("edfs demo: done")
        }
    }
}

/// Suspends until SIGINT or SIGTERM.
func waitForInterrupt() async {
    signal(SIGINT, SIG_IGN)
    signal(SIGTERM, SIG_IGN)
    await withCheckedContinuation { (continuation: CheckedContinuation<Void, Never>) in
        let queue = DispatchQueue(label: "edfs.signals")
        let resumed = ResumeOnce(continuation)
        for number in [SIGINT, SIGTERM] {
            let source = DispatchSource.makeSignalSource(signal: number, queue: queue)
            source.setEventHandler { resumed.resume() }
            source.resume()
            SignalSources.keep(source)
        }
    }
}

/// Resumes a continuation at most once. `@unchecked Sendable`: its only state is read and written on one serial queue.
private final class ResumeOnce: @unchecked Sendable {
    private var continuation: CheckedContinuation<Void, Never>?
    init(_ continuation: CheckedContinuation<Void, Never>) { self.continuation = continuation }
    func resume() {
        continuation?.resume()
        continuation = nil
    }
}

/// Keeps signal sources alive for the life of the process.
private final class SignalSources: Sendable {
    /// `@unchecked Sendable` is sound: a kept source is only held to keep it alive, never touched again.
    private struct Kept: @unchecked Sendable { let source: any DispatchSourceSignal }
    static let shared = SignalSources()
    private let sources = Mutex<[Kept]>([])
    static func keep(_ source: any DispatchSourceSignal) { shared.sources.withLock { $0.append(Kept(source: source)) } }
}

/// On SIGINT or SIGTERM, removes the temporary output files being written and exits 130 (128 + SIGINT).
func removePartialOutputsOnInterrupt() {
    let queue = DispatchQueue(label: "edfs.interrupt")
    for number in [SIGINT, SIGTERM] {
        signal(number, SIG_IGN)
        let source = DispatchSource.makeSignalSource(signal: number, queue: queue)
        source.setEventHandler {
            PartialOutputs.shared.removeAll()
            printError("interrupted; no partial output was left")
            exit(130)
        }
        source.resume()
        SignalSources.keep(source)
    }
}
