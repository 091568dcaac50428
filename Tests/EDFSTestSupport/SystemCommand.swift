import Foundation

/// Runs system commands (cp, diff, bash, mount…) as child processes, the way `EDFSBinary` runs `edfs`.
public enum SystemCommand {
    /// Runs `arguments` (found through PATH by /usr/bin/env) to completion in `directory`, waited for on a thread of
    /// its own (`offPool`).
    @discardableResult
    public static func run(_ arguments: [String], in directory: String? = nil) async throws -> EDFSBinary.Outcome {
        try await offPool { try runBlocking(arguments, in: directory) }
    }

    /// `run`, blocking the calling thread: only for synchronous callers (deinit, a node test's setup).
    @discardableResult
    public static func runBlocking(_ arguments: [String], in directory: String? = nil) throws -> EDFSBinary.Outcome {
        let process = Process()
        process.executableURL = URL(fileURLWithPath: "/usr/bin/env")
        process.arguments = arguments
        if let directory { process.currentDirectoryURL = URL(fileURLWithPath: directory) }
        return try process.runCollecting()
    }
}

extension Process {
    /// Starts the process with `stdin` (or nothing) as its input, reads its output and error to the end and waits
    /// for it: both pipes are read before the wait, so a chatty child cannot block on a full pipe.
    func runCollecting(stdin: Data? = nil) throws -> EDFSBinary.Outcome {
        let out = Pipe(), err = Pipe(), input = Pipe()
        standardOutput = out
        standardError = err
        standardInput = input
        try run()
        if let stdin { input.fileHandleForWriting.write(stdin) }
        try input.fileHandleForWriting.close()
        let group = DispatchGroup()
        nonisolated(unsafe) var errData = Data()  // written by the reader before group.leave(), read after wait()
        group.enter()
        DispatchQueue.global().async {
            errData = err.fileHandleForReading.readDataToEndOfFile()
            group.leave()
        }
        let outData = out.fileHandleForReading.readDataToEndOfFile()
        group.wait()
        waitUntilExit()
        return EDFSBinary.Outcome(status: terminationStatus, stdout: String(decoding: outData, as: UTF8.self),
                                  stderr: String(decoding: errData, as: UTF8.self))
    }
}
