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
