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
        abstract: "Certificates, node configs and N node processes on loopback; Ctrl-C stops them all.",
        discussion: """
            A folder set up before is reused: its user logs in with the password chosen then (checked by a login), \
            and its node count, replicas and ports are kept unless given. A node that exits is reported with its log \
            and started again (left stopped after 3 exits within 60 s).

            Examples:
              edfs cluster up --dir "$PWD/cluster"
              edfs cluster up --dir "$PWD/cluster" --nodes 5 --replicas 3 --base-port 20001
              edfs cluster up --dir "$PWD/cluster" --node-setting "DirectIO: yes"
            """)

    @Option(help: "Number of nodes (default 4, or the existing folder's).") var nodes: Int?
    @Option(help: "Replicas per stripe (default 2, or the existing folder's).") var replicas: Int?
    @Option(help: "Folder for certificates, configs, node data and logs.") var dir = "cluster"
    @Option(help: "Port of the first node; node i listens on base-port + i (default 10001, or the existing folder's).")
    var basePort: Int?
    @Option(help: "The user (created in a new folder; an existing folder's user logs in).") var user = "demo"
    @Option(help: "Read the user's password from this file.") var passwordFile: String?
    @Flag(help: "Read the user's password from standard input.") var passwordStdin = false
    @Option(help: ArgumentHelp("A 'Key: value' line for the nodes' config (docs/CONFIG.md), e.g. 'DirectIO: yes'; "
                               + "repeatable. Not kept: give it again when the folder is reused.",
                               valueName: "key: value"))
    var nodeSetting: [String] = []

    func validate() throws {
        if let problem = Self.problem(nodes: nodes ?? 4, replicas: replicas ?? min(2, nodes ?? 4),
                                      basePort: basePort ?? 10001) {
            throw ValidationError(problem)
        }
        guard NameRules.isValidUserName(user) else { throw ValidationError("--user: \"\(user)\" is not a valid user name") }
        guard !(passwordFile != nil && passwordStdin) else {
            throw ValidationError("give --password-file or --password-stdin, not both")
        }
        _ = try Self.nodeSettings(nodeSetting)
    }

    /// `--node-setting` lines as key → value; a line without a key, a colon and a value is a usage error.
    private static func nodeSettings(_ lines: [String]) throws -> [String: String] {
        var settings: [String: String] = [:]
        for line in lines {
            let parts = line.split(separator: ":", maxSplits: 1).map { $0.trimmingCharacters(in: .whitespaces) }
            guard parts.count == 2, !parts[0].isEmpty, !parts[1].isEmpty,
                  parts[0].allSatisfy({ $0.isASCII && ($0.isLetter || $0.isNumber) }),
                  !parts[1].unicodeScalars.contains(where: { $0.properties.generalCategory == .control }) else {
                throw ValidationError("--node-setting: expected 'Key: value', e.g. 'DirectIO: yes', not '\(line)'")
            }
            settings[parts[0]] = parts[1]
        }
        return settings
    }

    /// What is wrong with these parameters, or nil.
    private static func problem(nodes: Int, replicas: Int, basePort: Int) -> String? {
        guard (1...64).contains(nodes) else { return "--nodes must be 1 to 64" }
        guard (1...nodes).contains(replicas) else { return "--replicas must be 1 to --nodes (\(nodes))" }
        guard basePort >= 1, basePort + nodes - 1 <= 65535 else {
            return "--base-port must leave room for \(nodes) ports below 65536"
        }
        return nil
    }

    func run() async throws {
        try await reportingFailures {
            // Absolute, so that what is printed below works after any cd.
            let dir = URL(fileURLWithPath: dir).standardizedFileURL.path
            // Everything about the folder is checked before the password is asked for.
            let existing = try LocalCluster.ExistingSetup.read(directory: dir)
            var options = LocalCluster.Options(directory: dir)
            options.user = user
            options.nodeSettings = try Self.nodeSettings(nodeSetting)
            if let existing {
                try Self.checkReuse(existing, directory: dir, user: user, nodes: nodes, replicas: replicas)
                options.nodes = existing.nodes
                options.replicas = replicas ?? existing.replicas ?? min(2, existing.nodes)
                options.basePort = basePort ?? existing.basePort
            } else {
                options.nodes = nodes ?? 4
                options.replicas = replicas ?? min(2, options.nodes)
                options.basePort = basePort ?? 10001
            }
            if let problem = Self.problem(nodes: options.nodes, replicas: options.replicas,
                                          basePort: options.basePort ?? 10001) {
                throw ClientError.usage(problem)
            }

            let environment = ProcessInfo.processInfo.environment
            let source = PasswordSource.choose(
                file: passwordFile, standardInput: passwordStdin, environment: environment,
                prompt: existing == nil ? "Password for new user \(user): "
                    : "Password of user \(user) (set when \(dir) was first set up): ")
            let password = try source.read(environment: environment)
            if existing == nil, case .prompt = source {
                let again = try PasswordSource.prompt("Password again: ").read(environment: environment)
                guard password.constantTimeEquals(again) else { throw PasswordError.mismatch }
            }

            // From here on, Ctrl-C or SIGTERM stops every node started so far (nodes run in their own process groups,
            // so the signal reaches only this process), whenever it comes.
            let interrupt = InterruptLatch.install()
            let cluster = try LocalCluster(options: options, executable: currentExecutable(),
                                           password: existing == nil ? password : nil)
            do {
                for index in 0..<options.nodes where !interrupt.fired { try cluster.startNode(index) }
                if !interrupt.fired { try cluster.writeClientConfig() }
                if existing != nil, !interrupt.fired {
                    try await Self.logIn(cluster: cluster, user: user, password: password, directory: dir)
                }
                if interrupt.fired {
                    cluster.stop()
                    printError("interrupted: stopped the nodes started so far; nothing else was changed")
                    throw ExitCode(130)
                }
            } catch let failure as LocalClusterError {
                cluster.stop()
                guard case .nodeFailed = failure else { throw failure }
                printError(failure.description)
                throw ExitCode(ExitStatus.unavailable)  // a node that cannot start (a port in use): exit 69
            } catch {
                cluster.stop()
                throw error
            }
            // Unbuffered: whoever reads the output (a script, a log file) sees it now, not when the cluster stops.
            printUnbuffered("edfs cluster: \(options.nodes) nodes up in \(dir)"
                + (existing == nil ? "; new user \(user)" : "; user \(user) logged in"))
            for (index, name) in cluster.nodeNames.enumerated() {
                printUnbuffered("  \(name)  127.0.0.1:\(cluster.port(index))  pid \(cluster.processIdentifier(index) ?? 0)  "
                    + "log \(cluster.logPath(name))")
            }
            printUnbuffered("client config \(cluster.clientConfigPath):")
            printUnbuffered(try String(contentsOfFile: cluster.clientConfigPath, encoding: .utf8))
            printUnbuffered("use it with: edfs put FILE --config \(cluster.clientConfigPath)   (Ctrl-C stops the cluster)")
            cluster.watch { printUnbuffered("edfs cluster: \($0)") }
            await interrupt.wait()
            cluster.stop()
            print("edfs cluster: stopped")
        }
    }

    /// An existing folder is reused only as it was set up: the same user and node count (placement depends on it).
    private static func checkReuse(_ existing: LocalCluster.ExistingSetup, directory: String, user: String,
                                   nodes: Int?, replicas: Int?) throws {
        guard existing.users.contains(user) else {
            throw ClientError.usage("\(directory) holds a cluster of user \(existing.users.joined(separator: ", ")), "
                + "not \(user): give --user \(existing.users.first ?? user), or another --dir for a new cluster")
        }
        if let nodes, nodes != existing.nodes {
            throw ClientError.usage("\(directory) was set up with \(existing.nodes) nodes, not \(nodes): leave out "
                + "--nodes (placement depends on the node count), or give another --dir for a new cluster")
        }
        if let replicas, let before = existing.replicas, replicas != before {
            throw ClientError.usage("\(directory) was set up with \(before) replicas, not \(replicas): leave out "
                + "--replicas (placement depends on it), or give another --dir for a new cluster")
        }
    }

    /// Logs in to every node as `user` and opens the user's keys when there are any: a wrong password is exit 77.
    private static func logIn(cluster: LocalCluster, user: String, password: SecureBytes, directory: String) async throws {
        let config = try ClusterConfig.load(path: cluster.clientConfigPath)
        let derivation = PasswordDerivation(password: password)
        let wrong = ClientError.authenticationFailed(
            "wrong password for user \(user) of the cluster in \(directory): give the password chosen when it was "
                + "first set up (edfs passwd changes it), or another --dir for a new cluster")
        let links: ClusterLinks
        do {
            links = try await ClusterLinks.connect(
                config: config, user: user,
                connectors: [NodeConnection.connector(config: config, user: user, derivation: derivation)],
                notices: Notices())
        } catch where ExitStatus.code(for: error) == ExitStatus.noPermission {
            throw wrong
        }
        do {
            let session = try await ClusterSession.open(links: links, user: user, derivations: [derivation],
                                                        createKeys: false)
            await session.close()
        } catch where ExitStatus.code(for: error) == ExitStatus.noPermission {
            throw wrong
        } catch {
            // No keys yet (nothing stored), or another problem the user's first command reports: the logins passed.
        }
    }
}
