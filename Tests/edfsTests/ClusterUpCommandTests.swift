import EDFSClient
import EDFSTestSupport
import Foundation
import Testing
#if canImport(Glibc)
import Glibc
#endif

extension BinaryCommandSuites {
/// `edfs cluster up` through the binary on an existing folder (its user logs in) and with a node that dies under it
/// (reported and restarted) (issue 14, item 3).
@Suite("edfs cluster up", .serialized)
struct ClusterUpCommandTests {
    /// `edfs cluster up …` running in the background, its output in files.
    final class Running {
        let process = Process()
        let outPath: String
        let errPath: String

        init(_ arguments: [String], stdin: String, folder: String) throws {
            outPath = folder + ".out"
            errPath = folder + ".err"
            FileManager.default.createFile(atPath: outPath, contents: nil)
            FileManager.default.createFile(atPath: errPath, contents: nil)
            process.executableURL = try EDFSBinary.url()
            process.arguments = ["cluster", "up", "--dir", folder] + arguments + ["--password-stdin"]
            var environment = ProcessInfo.processInfo.environment
            environment["EDFS_PASSWORD"] = nil
            process.environment = environment
            process.standardOutput = try FileHandle(forWritingTo: URL(fileURLWithPath: outPath))
            process.standardError = try FileHandle(forWritingTo: URL(fileURLWithPath: errPath))
            let input = Pipe()
            process.standardInput = input
            try process.run()
            input.fileHandleForWriting.write(Data((stdin + "\n").utf8))
            try input.fileHandleForWriting.close()
        }

        var stdout: String { (try? String(contentsOfFile: outPath, encoding: .utf8)) ?? "" }
        var stderr: String { (try? String(contentsOfFile: errPath, encoding: .utf8)) ?? "" }

        /// Waits until stdout holds `text` `times` times (true), or the process exits or 60 s pass (false).
        func waitFor(_ text: String, times: Int = 1) async -> Bool {
            let deadline = Date().addingTimeInterval(60)
            func seen() -> Bool { stdout.components(separatedBy: text).count - 1 >= times }
            while Date() < deadline {
                if seen() { return true }
                if !process.isRunning { return seen() }
                try? await Task.sleep(for: .milliseconds(100))
            }
            return false
        }

        /// SIGINT, then its exit status (blocking: for `defer`).
        func stop() -> Int32 {
            if process.isRunning { kill(process.processIdentifier, SIGINT) }
            process.waitUntilExit()
            return process.terminationStatus
        }

        /// SIGINT, then its exit status, waited for without holding a thread.
        func stopped() async -> Int32 {
            if process.isRunning { kill(process.processIdentifier, SIGINT) }
            await process.exited()
            return process.terminationStatus
        }

        /// The last pid `cluster up` printed for node `name` (at start, or when it restarted the node).
        func pid(of name: String) -> Int32? {
            var pid: Int32?
            for line in stdout.split(separator: "\n")
            where line.hasPrefix("  \(name) ") || line.hasPrefix("edfs cluster: node \(name) is back on ") {
                let fields = line.split(separator: " ")
                if let at = fields.firstIndex(of: "pid"), at + 1 < fields.count { pid = Int32(fields[at + 1]) }
            }
            return pid
        }
    }

    /// A base port with `count` free ports above it on 127.0.0.1.
    private func freeBasePort(_ count: Int) throws -> Int {
        for _ in 0..<50 {
            let base = Int.random(in: 30000...59000)
            if (base..<(base + count)).allSatisfy(isFree) { return base }
        }
        throw CancellationError()
    }

    private func isFree(_ port: Int) -> Bool {
        let fd = socket(AF_INET, Int32(SOCK_STREAM.rawValue), 0)
        guard fd >= 0 else { return false }
        defer { close(fd) }
        var address = sockaddr_in()
        address.sin_family = sa_family_t(AF_INET)
        address.sin_port = in_port_t(UInt16(port).bigEndian)
        address.sin_addr.s_addr = inet_addr("127.0.0.1")
        return withUnsafePointer(to: &address) {
            $0.withMemoryRebound(to: sockaddr.self, capacity: 1) {
                bind(fd, $0, socklen_t(MemoryLayout<sockaddr_in>.size))
            }
        } == 0
    }

    /// Runs `body` with a new folder path and a base port with two free ports; removes the folder and its output files.
    private func withFolder(_ body: (_ folder: String, _ basePort: Int) async throws -> Void) async throws {
        let folder = FileManager.default.temporaryDirectory
            .appendingPathComponent("edfs-up-\(UUID().uuidString.prefix(8))").path
        defer {
            for path in [folder, folder + ".out", folder + ".err"] { try? FileManager.default.removeItem(atPath: path) }
        }
        try await body(folder, try freeBasePort(2))
    }

    /// Processes whose command line names `folder` (the nodes `cluster up` started there).
    private func processes(naming folder: String) -> [Int32] {
        let entries = (try? FileManager.default.contentsOfDirectory(atPath: "/proc")) ?? []
        return entries.compactMap(Int32.init).filter { pid in
            guard let line = FileManager.default.contents(atPath: "/proc/\(pid)/cmdline") else { return false }
            return String(decoding: line.map { $0 == 0 ? 32 : $0 }, as: UTF8.self).contains(folder + "/")
        }
    }

    @Test("Ctrl-C while cluster up starts its nodes stops every node started so far (attack finding)",
          arguments: [0.2, 0.5, 1.0])
    func interruptDuringStart(after seconds: Double) async throws {
        try await withFolder { folder, base in
            let running = try Running(["--nodes", "2", "--replicas", "1", "--base-port", "\(base)"], stdin: "pw one",
                                      folder: folder)
            try await Task.sleep(for: .seconds(seconds))
            let status = await running.stopped()
            #expect(status == 0 || status == 130, "\(running.stderr)")
            var left = processes(naming: folder)
            for _ in 0..<30 where !left.isEmpty {
                try await Task.sleep(for: .milliseconds(100))
                left = processes(naming: folder)
            }
            #expect(left.isEmpty, "nodes left running after SIGINT at \(seconds) s: \(left); \(running.stderr)")
            for pid in left { kill(pid, SIGKILL) }
        }
    }

    @Test("an existing folder: its user logs in with the first password, a wrong one is exit 77, a mismatch is 64")
    func existingFolder() async throws {
        try await withFolder { folder, base in
            let first = try Running(["--nodes", "2", "--replicas", "2", "--base-port", "\(base)"],
                                    stdin: "first password", folder: folder)
            #expect(await first.waitFor("use it with:"), "\(first.stdout)\(first.stderr)")
            #expect(first.stdout.contains("new user demo"))
            let config = folder + "/dfc.conf"
            let put = try await EDFSBinary.run(["put", folder + ".out", "--as", "kept.txt", "--config", config],
                                               environment: ["EDFS_PASSWORD": "first password"])
            #expect(put.status == 0, "\(put.stderr)")
            #expect(await first.stopped() == 0)

            // Another user, node count or replica count for the folder: refused before any password is read.
            for arguments in [["--user", "alice"], ["--nodes", "3"], ["--replicas", "1"]] {
                let outcome = try await EDFSBinary.run(["cluster", "up", "--dir", folder] + arguments)
                #expect(outcome.status == 64, "\(arguments): \(outcome.stderr)")
                #expect(outcome.stderr.hasPrefix("edfs: \(folder) ") && !outcome.stderr.contains("assword"),
                        "\(arguments): \(outcome.stderr)")
            }
            // A --node-setting that is not one 'Key: value' line (no second line smuggled into the nodes' config).
            for setting in ["DirectIO: yes\nLegacyMD5Logins: yes", "DirectIO", "Direct IO: yes"] {
                let outcome = try await EDFSBinary.run(["cluster", "up", "--dir", folder, "--node-setting", setting])
                #expect(outcome.status == 64 && outcome.stderr.contains("--node-setting: expected 'Key: value'"),
                        "\(setting): \(outcome.stderr)")
            }

            // A wrong password: the nodes' login refuses it; exit 77, and nothing is left running (the next run
            // binds the same ports).
            let wrong = try Running([], stdin: "not the password", folder: folder)
            await wrong.process.exited()
            #expect(wrong.process.terminationStatus == 77, "\(wrong.stdout)\(wrong.stderr)")
            #expect(wrong.stderr.contains("edfs: wrong password for user demo of the cluster in \(folder)"),
                    "\(wrong.stderr)")
            #expect(!wrong.stderr.contains("not the password"))

            // The right one: the same ports, node count and data; the stored file is there.
            let again = try Running([], stdin: "first password", folder: folder)
            #expect(await again.waitFor("use it with:"), "\(again.stdout)\(again.stderr)")
            #expect(again.stdout.contains("user demo logged in") && again.stdout.contains("127.0.0.1:\(base + 1)"),
                    "\(again.stdout)")
            let ls = try await EDFSBinary.run(["ls", "--config", config], environment: ["EDFS_PASSWORD": "first password"])
            #expect(ls.status == 0 && ls.stdout.contains("kept.txt"), "\(ls.stdout)\(ls.stderr)")
            #expect(await again.stopped() == 0)
        }
    }

    @Test("a node killed under cluster up is reported with its log and exit, and restarted; after 3 exits it stays down")
    func nodeRestarted() async throws {
        try await withFolder { folder, base in
            let running = try Running(["--nodes", "2", "--replicas", "2", "--base-port", "\(base)"], stdin: "pw",
                                      folder: folder)
            defer { _ = running.stop() }
            #expect(await running.waitFor("use it with:"), "\(running.stdout)\(running.stderr)")
            let pid = try #require(running.pid(of: "DFS2"), "\(running.stdout)")
            #expect(kill(pid, SIGKILL) == 0)
            #expect(await running.waitFor("edfs cluster: node DFS2 is back on 127.0.0.1:\(base + 1)"),
                    "\(running.stdout)\(running.stderr)")
            #expect(running.stdout.contains("edfs cluster: node DFS2 exited (killed by signal 9 (SIGKILL)); its log: "
                + "\(folder)/DFS2.log; restarting it"), "\(running.stdout)")
            let status = try await EDFSBinary.run(["status", "--config", folder + "/dfc.conf"],
                                                  environment: ["EDFS_PASSWORD": "pw"])
            #expect(status.status == 0, "\(status.stdout)\(status.stderr)")

            // Two more exits within 60 s: the node is restarted once more, then left stopped.
            let second = try #require(running.pid(of: "DFS2"), "\(running.stdout)")
            #expect(second != pid)
            #expect(kill(second, SIGKILL) == 0)
            #expect(await running.waitFor("edfs cluster: node DFS2 is back on", times: 2), "\(running.stdout)")
            let third = try #require(running.pid(of: "DFS2"), "\(running.stdout)")
            #expect(third != second)
            #expect(kill(third, SIGKILL) == 0)
            #expect(await running.waitFor("edfs cluster: node DFS2 exited (killed by signal 9 (SIGKILL)), 3 times within 60 s: "
                + "not restarting it; read its log \(folder)/DFS2.log"), "\(running.stdout)")
            #expect(running.process.isRunning, "cluster up goes on with the other nodes")
            #expect(await running.stopped() == 0)
        }
    }
}
}
