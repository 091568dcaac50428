import ArgumentParser
import Dispatch
import EDFSClient
import EDFSCrypto
import EDFSDevTools
import EDFSFormat
import EDFSNode
import Foundation
import Logging
import NIOCore
#if canImport(Glibc)
import Glibc
#endif

/// `edfs node`: runs one storage node until SIGINT or SIGTERM.
struct NodeCommand: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "node",
        abstract: "Run one storage node.",
        usage: "edfs node [--config FILE] --name NAME --data DIR [--listen HOST:PORT] [--cert F] [--key F] [--ca F] "
            + "[--log-level LEVEL]",
        discussion: """
            Listens on the address of the config's "Server NAME HOST:PORT" line (or --listen; port 0 picks a free \
            port), prints "listening on HOST:PORT", and serves until SIGINT or SIGTERM. Certificates default to \
            NAME.crt, NAME.key and ca.crt in the config's Keys: folder. `edfs node scrub --data DIR` checks a stopped \
            node's data folder.

            Logs go to standard error. At startup the node logs one line with its address, data folder, number of \
            users, limits, scrub and metrics endpoint (never a password, digest or verifier). A MetricsListen: \
            HOST:PORT line in the config serves Prometheus metrics at http://HOST:PORT/metrics (plain HTTP: keep it \
            on loopback or a private network; docs/METRICS.md).

            Examples:
              edfs node --config dfs.conf --name DFS1 --data /srv/DFS1
              edfs node --config dfs.conf --name DFS1 --data /srv/DFS1 --log-level warning
            """,
        subcommands: [NodeScrubCommand.self, NodeBenchTLSCommand.self, NodeBenchClientCommand.self])

    @Option(help: "Node config (dfs.conf: Server, Username and Password lines; docs/CONFIG.md).")
    var config: String = "Config/dfs.conf"

    // Optional only so that the hidden bench subcommands parse without them; run() requires both.
    @Option(help: "This node's name (its Server line). Required.")
    var name: String?

    @OptionGroup var dataOption: NodeDataOption
    var data: String? { dataOption.data }

    @Option(help: "Listen address HOST:PORT, overriding the config's Server line.")
    var listen: String?

    @Option(help: "Certificate file (PEM).")
    var cert: String?

    @Option(help: "Private key file (PEM).")
    var key: String?

    @Option(help: "Cluster CA certificate (PEM).")
    var ca: String?

    @Option(help: ArgumentHelp(
        "Least severe log line written: trace, debug, info, notice, warning, error or critical. info shows the "
            + "startup line, one line per connection and failed logins; debug adds user names and metrics "
            + "connections.",
        valueName: "level"))
    var logLevel: Logger.Level = .info

    func run() async throws {
        guard let name else { throw ValidationError("Missing expected argument '--name <name>'") }
        guard let data else { throw ValidationError("Missing expected argument '--data <data>'") }
        let configuration: NodeConfiguration
        do {
            configuration = try NodeConfiguration.load(configFile: config, name: name, dataDirectory: data,
                                                       listen: listen, certificateFile: cert, privateKeyFile: key,
                                                       caFile: ca)
        } catch {
            printError(error.description)
            switch error {
            case .config: throw ExitCode(ExitStatus.failure)
            default: throw ExitCode(ExitStatus.usage)
            }
        }
        LoggingSystem.bootstrap(StreamLogHandler.standardError)
        let logger = {
            var logger = Logger(label: "edfs.node.\(configuration.name)")
            logger.logLevel = logLevel
            return logger
        }()

        // Signals arrive on a Dispatch source; the default actions are ignored so that shutdown is clean.
        let (signals, signalContinuation) = AsyncStream<Int32>.makeStream()
        var sources: [any DispatchSourceSignal] = []
        for number in [SIGINT, SIGTERM] {
            signal(number, SIG_IGN)
            let source = DispatchSource.makeSignalSource(signal: number, queue: .global())
            source.setEventHandler { signalContinuation.yield(number) }
            source.resume()
            sources.append(source)
        }
        defer { for source in sources { source.cancel() } }

        let node: StorageNode
        let address: String
        do {
            node = try StorageNode(configuration: configuration, logger: logger)
            address = try await node.start().hostPortText
        } catch {
            printError("node \(configuration.name): \(error)")
            // A port in use or an address not of this host: the service cannot be offered (docs/CLI.md).
            if case NodeStartError.bind = error { throw ExitCode(ExitStatus.unavailable) }
            throw ExitCode(ExitStatus.failure)
        }
        // The config's warnings (an unknown setting, …) once the node runs: a node that fails to start says one line.
        for warning in configuration.configWarnings { logger.warning("\(warning)") }
        // Unbuffered, so that whoever started the node sees the port at once.
        let line = Array("listening on \(address)\n".utf8)
        line.withUnsafeBytes { bytes in _ = write(1, bytes.baseAddress, bytes.count) }

        await withTaskGroup(of: Void.self) { group in
            group.addTask {
                for await number in signals {
                    logger.notice("signal \(number): stopping")
                    await node.shutdown()
                    return
                }
            }
            group.addTask {
                await node.waitUntilStopped()
                signalContinuation.finish()
            }
            await group.waitForAll()
        }
    }
}

/// `--log-level LEVEL`: swift-log's level names (trace, debug, info, notice, warning, error, critical).
extension Logger.Level: @retroactive ExpressibleByArgument {}
