import ArgumentParser
import Dispatch
import EDFSClient
import EDFSCrypto
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
        usage: "edfs node [--config FILE] --name NAME --data DIR [--listen HOST:PORT] [--cert F] [--key F] [--ca F]",
        discussion: """
            Listens on the address of the config's "Server NAME HOST:PORT" line (or --listen; port 0 picks a free \
            port), prints "listening on HOST:PORT", and serves until SIGINT or SIGTERM. Certificates default to \
            NAME.crt, NAME.key and ca.crt in the config's Keys: folder.
            """,
        subcommands: [NodeBenchTLSCommand.self, NodeBenchClientCommand.self])

    @Option(help: "Node config in the seed's dfs.conf format.")
    var config: String = "Config/dfs.conf"

    // Optional only so that the hidden bench subcommands parse without them; run() requires both.
    @Option(help: "This node's name (its Server line). Required.")
    var name: String?

    @Option(help: "Data directory. Required.")
    var data: String?

    @Option(help: "Listen address HOST:PORT, overriding the config's Server line.")
    var listen: String?

    @Option(help: "Certificate file (PEM).")
    var cert: String?

    @Option(help: "Private key file (PEM).")
    var key: String?

    @Option(help: "Cluster CA certificate (PEM).")
    var ca: String?

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
            logger.logLevel = .info
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
            throw ExitCode(ExitStatus.failure)
        }
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

/// Hidden: the bare NIO + NIOSSL loopback ceiling for Scripts/bench-node.sh.
struct NodeBenchTLSCommand: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "bench-tls", abstract: "Bare TLS 1.3 loopback transfer (for Scripts/bench-node.sh).",
        shouldDisplay: false)

    // Not --cert/--key/--ca: `edfs node` itself owns those names.
    @Option var certificateFile: String
    @Option var privateKeyFile: String
    @Option var caFile: String
    @Option(help: "Bytes to transfer, e.g. 1G.") var size: String = "1G"
    @Option(help: "Bytes per write.") var write: String = "1M"
    @Option(help: "Transfers, one after the other in this process (memory warms up after the first).")
    var rounds: Int = 3

    func run() async throws {
        let total = try ByteCount(parsing: size).bytes
        let writeSize = try ByteCount(parsing: write).bytes
        for round in 1...max(1, rounds) {
            let elapsed = try await TLSLoopbackBenchmark.run(totalBytes: total, writeSize: writeSize,
                                                             certificateFile: certificateFile,
                                                             privateKeyFile: privateKeyFile, caFile: caFile)
            print("tls-loopback\(round) \(BenchFormat.rate(total, elapsed))")
        }
    }
}

/// Hidden: one client's upload and download of one large object to one node, for Scripts/bench-node.sh.
struct NodeBenchClientCommand: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "bench-client", abstract: "Upload and download one object (for Scripts/bench-node.sh).",
        shouldDisplay: false)

    @Option var host: String = "127.0.0.1"
    @Option var port: Int
    @Option var caFile: String
    @Option var user: String
    @Option(help: "Environment variable holding the password.") var passwordEnv: String = "EDFS_PASSWORD"
    @Option(help: "Object size, e.g. 1G.") var size: String = "1G"
    @Option(help: "Uploads of the object (each replaces the last).") var uploads: Int = 1
    @Option(help: "Downloads of the (then cached) object.") var downloads: Int = 2

    func run() async throws {
        let total = try ByteCount(parsing: size).bytes
        guard let password = ProcessInfo.processInfo.environment[passwordEnv] else {
            printError("set \(passwordEnv)")
            throw ExitCode(ExitStatus.usage)
        }
        let trust = try NodeTLSTrust(caFile: caFile)
        let connection = try await NodeConnection.open(
            host: host, port: port, trust: trust, user: user,
            passwordDigest: NodeConnection.legacyPasswordDigest(SecureBytes(copying: Array(password.utf8))))
        let chunk = ByteBuffer(bytes: try SecureRandom.bytes(1 << 20))
        let name = "bench-\(total)"

        var start = ContinuousClock.now
        for round in 1...max(1, uploads) {
            start = .now
            let upload = try await connection.startPut(object: name, length: UInt64(total))
            var sent = 0
            while sent < total {
                let count = min(chunk.readableBytes, total - sent)
                try await upload.write(chunk.getSlice(at: chunk.readerIndex, length: count) ?? chunk)
                sent += count
            }
            try await upload.finish()
            print("upload\(round) \(BenchFormat.rate(total, .now - start)) (acknowledged after fsync)")
        }

        for round in 1...max(1, downloads) {
            start = .now
            let download = try await connection.startGet(object: name)
            var received = 0
            while let piece = try await download.next() { received += piece.readableBytes }
            guard received == total else {
                printError("download returned \(received) of \(total) bytes")
                throw ExitCode(ExitStatus.failure)
            }
            print("download\(round) \(BenchFormat.rate(total, .now - start))")
        }
        try await connection.delete(object: name)
        await connection.close()
    }
}

enum BenchFormat {
    /// "N bytes in S s = R MB/s" (MB = 10^6 bytes, as dd prints).
    static func rate(_ bytes: Int, _ elapsed: Duration) -> String {
        let seconds = Double(elapsed.components.seconds) + Double(elapsed.components.attoseconds) / 1e18
        let rate = seconds > 0 ? Double(bytes) / seconds / 1e6 : 0
        return "\(bytes) bytes in \((seconds * 1000).rounded() / 1000) s = \(Int(rate.rounded())) MB/s"
    }
}
