import Foundation

/// Runs the built `edfs` executable as a real process: the CLI contract (output, exit codes) is what is tested.
public enum EDFSBinary {
    /// The `edfs` binary next to the test bundle (SwiftPM builds every product before `swift test` runs).
    public static func url() throws -> URL {
        if let override = ProcessInfo.processInfo.environment["EDFS_BINARY"] { return URL(fileURLWithPath: override) }
        var candidates: [URL] = []
        let testBinary = URL(fileURLWithPath: CommandLine.arguments[0]).resolvingSymlinksInPath()
        var folder = testBinary.deletingLastPathComponent()
        for _ in 0..<4 {  // the xctest bundle may be a directory several levels deep (macOS)
            candidates.append(folder.appendingPathComponent("edfs"))
            folder = folder.deletingLastPathComponent()
        }
        let packageRoot = URL(fileURLWithPath: #filePath).deletingLastPathComponent().deletingLastPathComponent()
            .deletingLastPathComponent()
        candidates.append(packageRoot.appendingPathComponent(".build/debug/edfs"))
        for candidate in candidates where FileManager.default.isExecutableFile(atPath: candidate.path) {
            return candidate
        }
        throw BinaryNotFound(searched: candidates.map(\.path))
    }

    public struct BinaryNotFound: Error, CustomStringConvertible {
        let searched: [String]
        public var description: String { "edfs binary not found (run `swift build` first); searched: \(searched.joined(separator: ", "))" }
    }

    public struct Outcome: Sendable {
        public var status: Int32
        public var stdout: String
        public var stderr: String
    }

    /// Runs `edfs arguments…` to completion (through `launcher`, e.g. `setpriv … --`, when given). The process is
    /// waited for on a thread of its own (`offPool`), so a test awaiting it holds no cooperative thread.
    public static func run(_ arguments: [String], environment: [String: String] = [:], stdin: Data? = nil,
                           launcher: [String] = [], directory: String? = nil) async throws -> Outcome {
        try await offPool {
            try runBlocking(arguments, environment: environment, stdin: stdin, launcher: launcher, directory: directory)
        }
    }

    /// `run`, blocking the calling thread until the process ends: only for synchronous callers.
    public static func runBlocking(_ arguments: [String], environment: [String: String] = [:], stdin: Data? = nil,
                                   launcher: [String] = [], directory: String? = nil) throws -> Outcome {
        let process = Process()
        if let directory { process.currentDirectoryURL = URL(fileURLWithPath: directory) }
        if let program = launcher.first {
            process.executableURL = URL(fileURLWithPath: program)
            process.arguments = Array(launcher.dropFirst()) + [try url().path] + arguments
        } else {
            process.executableURL = try url()
            process.arguments = arguments
        }
        var env = ProcessInfo.processInfo.environment
        for (key, value) in environment { env[key] = value }
        process.environment = env
        return try process.runCollecting(stdin: stdin)
    }
}
