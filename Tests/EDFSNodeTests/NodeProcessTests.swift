import EDFSClient
import EDFSCrypto
import EDFSFormat
import EDFSTestSupport
import Foundation
import Testing

/// The built `edfs` binary: `$EDFS_BINARY`, else beside the test bundle (`swift test` builds it there),
/// else `.build/debug/edfs` of this package.
func edfsBinary() -> String? {
    var candidates: [String] = []
    if let explicit = ProcessInfo.processInfo.environment["EDFS_BINARY"] { candidates.append(explicit) }
    let runner = URL(fileURLWithPath: CommandLine.arguments[0]).resolvingSymlinksInPath()
    var folder = runner.deletingLastPathComponent()
    for _ in 0..<4 {  // the runner may sit inside a bundle folder on some platforms
        candidates.append(folder.appendingPathComponent("edfs").path)
        folder = folder.deletingLastPathComponent()
    }
    let root = URL(fileURLWithPath: #filePath).deletingLastPathComponent().deletingLastPathComponent()
        .deletingLastPathComponent()
    candidates.append(root.appendingPathComponent(".build/debug/edfs").path)
    return candidates.first { FileManager.default.isExecutableFile(atPath: $0) }
}

/// One `edfs node` process with its stdout and stderr in files.
final class NodeProcess {
    let process = Process()
    let log: String
    let port: Int

    init(binary: String, config: String, name: String, data: String, log: String) throws {
        self.log = log
        FileManager.default.createFile(atPath: log, contents: nil)
        let handle = try FileHandle(forWritingTo: URL(fileURLWithPath: log))
        process.executableURL = URL(fileURLWithPath: binary)
        process.arguments = ["node", "--config", config, "--name", name, "--data", data, "--listen", "127.0.0.1:0"]
        process.standardOutput = handle
        process.standardError = handle
        try process.run()
        try handle.close()
        let deadline = Date().addingTimeInterval(20)
        var found: Int?
        while found == nil, Date() < deadline, process.isRunning {
            let text = (try? String(contentsOfFile: log, encoding: .utf8)) ?? ""
            if let line = text.split(separator: "\n").first(where: { $0.hasPrefix("listening on 127.0.0.1:") }) {
                found = Int(line.dropFirst("listening on 127.0.0.1:".count))
            } else {
                usleep(20_000)
            }
        }
        guard let found else {
            if process.isRunning { process.terminate() }
            throw NodeProcessError(log: (try? String(contentsOfFile: log, encoding: .utf8)) ?? "")
        }
        port = found
    }

    func signal(_ number: Int32) { kill(process.processIdentifier, number) }

    /// Waits for the process to exit (at most `seconds`); returns its status, or nil if it is still running.
    func waitForExit(seconds: Double = 10) -> Int32? {
        let deadline = Date().addingTimeInterval(seconds)
        while process.isRunning, Date() < deadline { usleep(10_000) }
        guard !process.isRunning else { return nil }
        return process.terminationStatus
    }

    /// `waitForExit` for async code: polls with `Task.sleep`, holding no thread.
    func exited(seconds: Double = 10) async -> Int32? {
        let deadline = Date().addingTimeInterval(seconds)
        while process.isRunning, Date() < deadline { try? await Task.sleep(for: .milliseconds(10)) }
        guard !process.isRunning else { return nil }
        return process.terminationStatus
    }

    deinit {
        if process.isRunning {
            kill(process.processIdentifier, SIGKILL)
            process.waitUntilExit()
        }
    }
}

struct NodeProcessError: Error, CustomStringConvertible {
    let log: String
    var description: String { "edfs node did not start:\n\(log)" }
}

/// Real `edfs node` processes: the seed's own dfs.conf, a SIGKILL in the middle of a put, a clean SIGTERM.
@Suite struct NodeProcessTests {
    /// The seed report's dfs.conf, as it is (it names DFS3 twice), plus the Keys folder.
    static let seedConfig = """
        Keys: Keys
        Server DFS1 127.0.0.1:10001
        Server DFS2 127.0.0.1:10002
        Server DFS3 127.0.0.1:10003
        Server DFS3 127.0.0.1:10004
        Username: rohan
        Password: c916d142f0dc7f9389653a164f1d4e9d
        Username: suyasha
        Password: 4fa6e053e6cdead4e4a56c82befc4eb8
        Username: srusti
        Password: e7741308a786f5522a681aa8fe343363

        """

    @Test(.enabled(if: edfsBinary() != nil, "the edfs binary was not found beside the tests or in .build/debug"))
    func sigkillMidPutLeavesNoTornObjectAndRestartCleansUp() async throws {
        let binary = try #require(edfsBinary())
        let directory = try TemporaryDirectory()
        defer { directory.remove() }
        let config = directory.path + "/dfs.conf"
        // The seed's lines, plus a login deadline with room for a slow machine (a sanitizer build on 2 loaded cores).
        try (Self.seedConfig + "LoginTimeout: 60s\n").write(toFile: config, atomically: true, encoding: .utf8)
        try DevelopmentPKI.initialize(directory: directory.path + "/Keys", nodeNames: ["DFS1"], hosts: ["127.0.0.1"],
                                      force: false)
        let data = directory.path + "/data"
        let trust = try NodeTLSTrust(caFile: directory.path + "/Keys/ca.crt")
        // The seed's user logs in with the seed's password.
        let digest = NodeConnection.legacyPasswordDigest(SecureBytes(copying: Array("rohan".utf8)))
        #expect(Hex.encode(digest) == "c916d142f0dc7f9389653a164f1d4e9d")

        let first = try NodeProcess(binary: binary, config: config, name: "DFS1", data: data, log: directory.path + "/1.log")
        let connection = try await NodeConnection.open(host: "127.0.0.1", port: first.port, trust: trust, user: "rohan",
                                                       passwordDigest: digest, options: .forTests)
        #expect(connection.nodeName == "DFS1")
        let acked = randomBytes(3 << 20)
        try await connection.putObject("acked", bytes: acked)

        let torn = try await connection.startPut(object: "torn", length: 64 << 20)
        try await torn.write(bytes: randomBytes(24 << 20))
        let temporaryFiles = { directory.allFiles().filter { $0.contains("/.tmp-") } }
        var started = false
        for _ in 0..<500 where !started {
            started = temporaryFiles().contains { name in
                let size = (try? FileManager.default.attributesOfItem(atPath: directory.path + "/" + name)[.size] as? Int) ?? 0
                return size > 1 << 20
            }
            if !started { try await Task.sleep(for: .milliseconds(10)) }
        }
        #expect(started, "the node never started writing the second object")
        first.signal(SIGKILL)
        #expect(await first.exited() == SIGKILL)
        await connection.close()
        #expect(!temporaryFiles().isEmpty, "a crash mid-put leaves its temporary file")
        #expect(!FileManager.default.fileExists(atPath: data + "/users/rohan/objects/torn"))

        let second = try NodeProcess(binary: binary, config: config, name: "DFS1", data: data, log: directory.path + "/2.log")
        #expect(temporaryFiles().isEmpty, "restart removes the temporary files")
        let again = try await NodeConnection.open(host: "127.0.0.1", port: second.port, trust: trust, user: "rohan",
                                                  passwordDigest: digest, options: .forTests)
        #expect(try await again.getObject("acked") == acked)
        #expect(try await again.stat(object: "acked", verify: true).checksumState == .verified)
        await expectRefusal(.notFound) { _ = try await again.stat(object: "torn") }
        #expect(try await again.listObjects() == ["acked": UInt64(acked.count)])

        // SIGTERM mid-put: a clean exit that discards the unfinished upload.
        let pending = try await again.startPut(object: "pending", length: 8 << 20)
        try await pending.write(bytes: randomBytes(1 << 20))
        _ = try await again.status()
        second.signal(SIGTERM)
        #expect(await second.exited() == 0)
        await again.close()
        #expect(temporaryFiles().isEmpty)
        #expect(!FileManager.default.fileExists(atPath: data + "/users/rohan/objects/pending"))
        let log = (try? String(contentsOfFile: directory.path + "/2.log", encoding: .utf8)) ?? ""
        #expect(!log.contains("c916d142"), "the log must not contain a password digest")
    }

    @Test(.enabled(if: edfsBinary() != nil, "the edfs binary was not found beside the tests or in .build/debug"))
    func badArgumentsFailWithOneLine() async throws {
        let binary = try #require(edfsBinary())
        let directory = try TemporaryDirectory()
        defer { directory.remove() }
        let config = directory.path + "/dfs.conf"
        try Self.seedConfig.write(toFile: config, atomically: true, encoding: .utf8)
        for (arguments, status) in [(["--name", "DFS9"], Int32(64)), (["--name", "DFS1", "--listen", "nonsense"], 64),
                                    (["--name", "DFS1"], 1)] {
            let process = Process()
            process.executableURL = URL(fileURLWithPath: binary)
            process.arguments = ["node", "--config", config, "--data", directory.path + "/data"] + arguments
            let errors = Pipe()
            process.standardError = errors
            process.standardOutput = FileHandle.nullDevice
            try process.run()
            await process.exited()
            let text = String(decoding: errors.fileHandleForReading.readDataToEndOfFile(), as: UTF8.self)
            #expect(process.terminationStatus == status, "\(arguments): \(text)")
            #expect(text.split(separator: "\n").count == 1, "\(arguments): \(text)")
        }
    }
}
