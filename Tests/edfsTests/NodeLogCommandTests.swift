import EDFSCrypto
import EDFSTestSupport
import Foundation
#if canImport(FoundationNetworking)
import FoundationNetworking
#endif
import Testing

extension BinaryCommandSuites {
/// `edfs node --log-level` and the node's startup line through the real binary, with its metrics endpoint scraped
/// over HTTP.
@Suite("edfs node: log level, startup line, metrics endpoint", .serialized)
struct NodeLogCommandTests {
    /// MD5 of "rohan": the digest must never appear in a log.
    private static let digest = "c916d142f0dc7f9389653a164f1d4e9d"

    /// A folder with development certificates for N1 and a node config with one MD5 user and `MetricsListen:`.
    private struct NodeFolder {
        let path: String
        var config: String { path + "/dfs.conf" }
        var data: String { path + "/data" }

        init() throws {
            path = NSTemporaryDirectory() + "edfs-node-log-" + UUID().uuidString.prefix(8)
            try FileManager.default.createDirectory(atPath: path, withIntermediateDirectories: true)
            try DevelopmentPKI.initialize(directory: path + "/Keys", nodeNames: ["N1"], hosts: ["127.0.0.1"], force: false)
            let text = "Server N1 127.0.0.1:10001\nKeys: Keys\nUsername: rohan\nPassword: \(NodeLogCommandTests.digest)\n"
                + "MetricsListen: 127.0.0.1:0\n"
            try text.write(toFile: config, atomically: true, encoding: .utf8)
        }

        func remove() { try? FileManager.default.removeItem(atPath: path) }
    }

    /// `edfs node` running with stdout and stderr in files of the folder.
    private final class RunningNode {
        let process = Process()
        let stdout: String
        let stderr: String

        init(_ folder: NodeFolder, logLevel: String) throws {
            stdout = folder.path + "/stdout-\(logLevel).log"
            stderr = folder.path + "/stderr-\(logLevel).log"
            FileManager.default.createFile(atPath: stdout, contents: nil)
            FileManager.default.createFile(atPath: stderr, contents: nil)
            process.executableURL = try EDFSBinary.url()
            process.arguments = ["node", "--config", folder.config, "--name", "N1", "--data", folder.data,
                                 "--listen", "127.0.0.1:0", "--log-level", logLevel]
            process.standardOutput = try FileHandle(forWritingTo: URL(fileURLWithPath: stdout))
            process.standardError = try FileHandle(forWritingTo: URL(fileURLWithPath: stderr))
            try process.run()
        }

        func text(_ path: String) -> String { (try? String(contentsOfFile: path, encoding: .utf8)) ?? "" }

        /// Waits (at most 20 s) until `path` holds `needle`.
        func wait(for needle: String, in path: String) async -> Bool {
            let deadline = Date().addingTimeInterval(20)
            while Date() < deadline, process.isRunning {
                if text(path).contains(needle) { return true }
                try? await Task.sleep(for: .milliseconds(20))
            }
            return text(path).contains(needle)
        }

        /// SIGTERM, then the exit status (nil if it did not exit within 10 s; it is killed then).
        func stop() async -> Int32? {
            process.terminate()
            let deadline = Date().addingTimeInterval(10)
            while process.isRunning, Date() < deadline { try? await Task.sleep(for: .milliseconds(10)) }
            guard !process.isRunning else {
                kill(process.processIdentifier, SIGKILL)
                await process.exited()
                return nil
            }
            return process.terminationStatus
        }
    }

    @Test("debug: the startup line states the config without secrets, user names on a debug line; metrics scrape")
    func startupLineAndMetrics() async throws {
        let folder = try NodeFolder()
        defer { folder.remove() }
        let node = try RunningNode(folder, logLevel: "debug")
        #expect(await node.wait(for: "metrics on http://127.0.0.1:", in: node.stderr), "\(node.text(node.stderr))")
        let log = node.text(node.stderr)
        let line = try #require(log.split(separator: "\n").first { $0.contains("node N1 started: ") })
        let data = try #require(URL(fileURLWithPath: folder.data).resolvingSymlinksInPath().path as String?)
        for part in ["address 127.0.0.1:", "data \(data);", "1 user (0 SCRAM, 1 legacy MD5)", "limits: 64 connections",
                     "login timeout 10 s", "scrub off", "metrics on http://127.0.0.1:"] {
            #expect(line.contains(part), "\(part) missing from: \(line)")
        }
        #expect(log.contains("node N1 users: rohan"), "the debug line names the users")
        #expect(!log.contains(Self.digest) && !log.lowercased().contains("password:"), "a secret in the log: \(log)")

        let metricsAt = try #require(line.range(of: "metrics on http://127.0.0.1:"))
        let port = try #require(Int(line[metricsAt.upperBound...].prefix { $0.isNumber }))
        let url = try #require(URL(string: "http://127.0.0.1:\(port)/metrics"))
        let (body, response) = try await URLSession.shared.data(from: url)
        #expect((response as? HTTPURLResponse)?.statusCode == 200)
        let text = String(decoding: body, as: UTF8.self)
        #expect(text.contains("edfs_filesystem_free_bytes ") && text.contains("edfs_connections{state=\"logged_in\"} "),
                "\(text.prefix(400))")
        let (_, missing) = try await URLSession.shared.data(from: try #require(URL(string: "http://127.0.0.1:\(port)/x")))
        #expect((missing as? HTTPURLResponse)?.statusCode == 404)

        #expect(await node.stop() == 0)
        #expect(node.text(node.stderr).contains("node N1 stopped"))
    }

    @Test("warning: nothing on standard error for a clean start and stop; listening on still on standard output")
    func warningLevelIsQuiet() async throws {
        let folder = try NodeFolder()
        defer { folder.remove() }
        let node = try RunningNode(folder, logLevel: "warning")
        #expect(await node.wait(for: "listening on 127.0.0.1:", in: node.stdout))
        #expect(await node.stop() == 0)
        #expect(node.text(node.stderr).isEmpty, "\(node.text(node.stderr))")
    }

    @Test("a misspelled setting in the node's config is a warning in its log, not silence (attack finding)")
    func unknownSettingWarns() async throws {
        let folder = try NodeFolder()
        defer { folder.remove() }
        let config = try String(contentsOfFile: folder.config, encoding: .utf8)
        try (config + "DirektIO: yes\n").write(toFile: folder.config, atomically: true, encoding: .utf8)
        let node = try RunningNode(folder, logLevel: "warning")
        #expect(await node.wait(for: "listening on 127.0.0.1:", in: node.stdout))
        #expect(await node.stop() == 0)
        #expect(node.text(node.stderr).contains("dfs.conf:6: warning: unknown setting \"DirektIO\""), "\(node.text(node.stderr))")
    }

    @Test("an unknown --log-level is a usage error (64)")
    func unknownLevel() async throws {
        let outcome = try await EDFSBinary.run(["node", "--name", "N1", "--data", "/nonexistent", "--log-level", "loud"])
        #expect(outcome.status == 64)
        #expect(outcome.stderr.contains("log-level"), "\(outcome.stderr)")
    }
}
}
