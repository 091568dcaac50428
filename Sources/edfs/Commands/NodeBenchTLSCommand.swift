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
