import EDFSClient
import EDFSTestSupport
import Foundation
import Testing
#if canImport(Glibc)
import Glibc
#endif

extension BinaryCommandSuites {
/// Progress, summaries and interrupts through the real binary (docs/CLI.md, "Progress and summaries").
@Suite("edfs progress and interrupts", .serialized)
struct ProgressCommandTests {
    /// The `{…}` lines of `text`, each parsed on its own (a line that does not parse fails the test).
    private func jsonLines(_ text: String) throws -> [[String: Any]] {
        try text.split(separator: "\n").filter { $0.hasPrefix("{") }.map { line in
            let object = try JSONSerialization.jsonObject(with: Data(line.utf8))
            return try #require(object as? [String: Any], "not an object: \(line)")
        }
    }

    /// Writes `mebibytes` MiB of random bytes to `path`; returns them.
    private func writeRandomFile(_ path: String, mebibytes: Int) throws -> [UInt8] {
        var content = [UInt8]()
        content.reserveCapacity(mebibytes << 20)
        for _ in 0..<mebibytes { content += try randomContent(1 << 20) }
        try Data(content).write(to: URL(fileURLWithPath: path))
        return content
    }

    /// Checks the status lines and the summary of one `--json` run end at the totals.
    private func expectFinished(_ stderr: String, action: String, files: Int, bytes: Int?) throws {
        let lines = try jsonLines(stderr)
        let status = lines.filter { $0["message_type"] as? String == "status" }
        let summaries = lines.filter { $0["message_type"] as? String == "summary" }
        #expect(!status.isEmpty && summaries.count == 1, "\(stderr)")
        #expect(lines.last?["message_type"] as? String == "summary", "the summary comes last: \(stderr)")
        for line in status + summaries { #expect(line["action"] as? String == action) }
        let last = try #require(status.last)
        for final in [last, try #require(summaries.first)] {
            #expect(final["files_done"] as? Int == files && final["total_files"] as? Int == files, "\(final)")
            if let bytes {
                #expect(final["bytes_done"] as? Int == bytes && final["total_bytes"] as? Int == bytes, "\(final)")
            }
        }
        // Counts never go down.
        let done = status.compactMap { $0["bytes_done"] as? Int }
        #expect(done == done.sorted(), "\(done)")
    }

    @Test("--json: status and summary lines on stderr end at the totals; a JSON line per file on stdout; check and repair keep their one object")
    func jsonStatus() async throws {
        let cluster = try await TestCluster.started()
        let folder = cluster.scratch("tree")
        try FileManager.default.createDirectory(atPath: folder + "/sub", withIntermediateDirectories: true)
        let sizes = ["a.bin": 300_000, "b.bin": 2_000_000, "sub/c.bin": 1_000]
        for (name, size) in sizes {
            FileManager.default.createFile(atPath: folder + "/" + name, contents: Data(try randomContent(size)))
        }
        let total = sizes.values.reduce(0, +)
        // c.bin (1,000 B) is an inline file: its bytes are in its manifest, so check and rotate read no object of it.
        let objectBytes = total - 1_000

        let put = try await cluster.run(["put", folder, "--json"])
        #expect(put.status == 0, "\(put.stderr)")
        try expectFinished(put.stderr, action: "put", files: 3, bytes: total)
        let stored = try jsonLines(put.stdout)
        #expect(stored.count == 3 && put.stdout.split(separator: "\n").count == 3, "\(put.stdout)")
        #expect(Set(stored.compactMap { $0["name"] as? String }) == ["tree/a.bin", "tree/b.bin", "tree/sub/c.bin"])
        #expect(stored.allSatisfy { $0["message_type"] as? String == "stored" && $0["version"] as? Int == 1 })

        let out = cluster.scratch("out")
        let get = try await cluster.run(["get", "-r", "tree", "-o", out, "--json"])
        #expect(get.status == 0, "\(get.stderr)")
        try expectFinished(get.stderr, action: "get", files: 3, bytes: total)
        #expect(try jsonLines(get.stdout).compactMap { $0["size"] as? Int }.sorted() == sizes.values.sorted())

        let check = try await cluster.run(["check", "--read-data", "--json"])
        #expect(check.status == 0, "\(check.stderr)")
        // Five stored names (the two folder entries too); every replica read: each object byte twice (R = 2).
        try expectFinished(check.stderr, action: "check", files: 5, bytes: 2 * objectBytes)
        let report = try #require(try JSONSerialization.jsonObject(with: Data(check.stdout.utf8)) as? [String: Any])
        #expect((report["files"] as? [Any])?.count == 5, "stdout is still the one report object")

        let repair = try await cluster.run(["repair", "--json"])
        #expect(repair.status == 0, "\(repair.stderr)")
        try expectFinished(repair.stderr, action: "repair", files: 0, bytes: nil)
        #expect(try JSONSerialization.jsonObject(with: Data(repair.stdout.utf8)) is [String: Any])

        let rotate = try await cluster.run(["key", "rotate", "--reencrypt", "--json"])
        #expect(rotate.status == 0, "\(rotate.stderr)")
        try expectFinished(rotate.stderr, action: "rotate", files: 5, bytes: objectBytes)
        let rotated = try jsonLines(rotate.stdout).filter { $0["message_type"] as? String == "rotated" }
        #expect(rotated.count == 5, "\(rotate.stdout)")

        // --quiet --json: the summary only.
        let quiet = try await cluster.run(["get", "tree/a.bin", "-o", cluster.scratch("a-again"), "--json", "--quiet"])
        #expect(quiet.status == 0, "\(quiet.stderr)")
        #expect(try jsonLines(quiet.stderr).map { $0["message_type"] as? String } == ["summary"], "\(quiet.stderr)")
    }

    @Test("a one-line summary on stderr, none with --quiet; stdout keeps its lines; --quiet only where there is progress")
    func summaries() async throws {
        let cluster = try await TestCluster.started()
        let a = try cluster.writeScratch("a.bin", try randomContent(150_000))
        let b = try cluster.writeScratch("b.bin", try randomContent(50_000))
        let put = try await cluster.run(["put", a, b])
        #expect(put.status == 0, "\(put.stderr)")
        #expect(put.stdout.split(separator: "\n").map { $0.hasPrefix("stored ") } == [true, true], "\(put.stdout)")
        let summary = put.stderr.split(separator: "\n").filter { $0.hasPrefix("edfs: stored ") }
        #expect(summary.count == 1, "\(put.stderr)")
        #expect(summary.first?.hasPrefix("edfs: stored 2 files, 195.3 KiB in ") == true && summary.first?.hasSuffix("/s)") == true,
                "\(put.stderr)")
        let quiet = try await cluster.run(["put", a, "--quiet"])
        #expect(quiet.status == 0 && !quiet.stderr.contains("stored"), "\(quiet.stderr)")
        let get = try await cluster.run(["get", "a.bin", "-o", cluster.scratch("copy")])
        #expect(get.stderr.contains("edfs: fetched 1 file, 146.5 KiB in "), "\(get.stderr)")
        let check = try await cluster.run(["check"])
        #expect(check.stderr.contains("edfs: checked 2 files in "), "\(check.stderr)")
        for command in [["ls"], ["status"], ["rm", "x"], ["mkdir", "x"], ["key", "status"]] {
            let refused = try await cluster.run(command + ["--quiet"])
            #expect(refused.status == 64, "\(command) --quiet: \(refused.status) \(refused.stderr)")
        }
    }

    /// Runs `arguments` with stdout and stderr on a new pseudo-terminal of `columns` columns (0: no size set), with
    /// `environment`; returns the exit status and every byte the terminal received.
    private func runOnTerminal(_ cluster: TestCluster, _ arguments: [String], columns: UInt16,
                               environment: [String: String]) async throws -> (status: Int32, output: [UInt8]) {
        // The terminal is read to its end, and the process waited for, on a thread of its own (`offPool`).
        try await offPool {
            try Self.runOnTerminalBlocking(cluster, arguments, columns: columns, environment: environment)
        }
    }

    private static func runOnTerminalBlocking(_ cluster: TestCluster, _ arguments: [String], columns: UInt16,
                                              environment: [String: String]) throws -> (status: Int32, output: [UInt8]) {
        // posix_openpt and friends are not imported; Linux's ioctls (asm-generic: TIOCSPTLCK, TIOCGPTN) do the same.
        let master = open("/dev/ptmx", O_RDWR | O_NOCTTY | O_CLOEXEC)
        try #require(master >= 0)
        defer { close(master) }
        var unlock: Int32 = 0
        var number: UInt32 = 0
        try #require(ioctl(master, 0x4004_5431, &unlock) == 0 && ioctl(master, 0x8004_5430, &number) == 0)
        let slave = open("/dev/pts/\(number)", O_RDWR | O_NOCTTY)
        try #require(slave >= 0)
        var size = winsize(ws_row: 24, ws_col: columns, ws_xpixel: 0, ws_ypixel: 0)
        try #require(ioctl(slave, UInt(TIOCSWINSZ), &size) == 0)
        let process = Process()
        process.executableURL = try EDFSBinary.url()
        process.arguments = arguments + ["--config", cluster.clientConfigPath]
        var env = ProcessInfo.processInfo.environment
        env["EDFS_PASSWORD"] = cluster.passwordText
        for (key, value) in environment { env[key] = value }
        process.environment = env
        let terminal = FileHandle(fileDescriptor: slave, closeOnDealloc: false)
        process.standardOutput = terminal
        process.standardError = terminal
        process.standardInput = FileHandle.nullDevice
        try process.run()
        close(slave)
        var output = [UInt8]()
        var buffer = [UInt8](repeating: 0, count: 65536)
        while true {
            let count = read(master, &buffer, buffer.count)
            if count <= 0 { break }  // EIO once the child has exited and no one holds the terminal
            output += buffer[0..<count]
        }
        process.waitUntilExit()
        return (process.terminationStatus, output)
    }

    /// What a terminal shows after `output`: finished lines, and every line as it was each time it was redrawn.
    private func screen(_ output: [UInt8]) -> (lines: [String], drawn: [String]) {
        var lines = [String]()
        var drawn = [String]()
        var line = [Character]()
        var cursor = 0
        let text = String(decoding: output, as: UTF8.self).replacingOccurrences(of: "\r\n", with: "\n")
        var rest = Substring(text)
        while let next = rest.first {
            if rest.hasPrefix("\u{1B}[K") {
                line = Array(line.prefix(cursor))
                rest = rest.dropFirst(3)
                continue
            }
            rest = rest.dropFirst()
            switch next {
            case "\r":
                if !line.isEmpty { drawn.append(String(line)) }
                cursor = 0
            case "\n":
                lines.append(String(line))
                line = []
                cursor = 0
            default:
                if cursor < line.count { line[cursor] = next } else { line.append(next) }
                cursor += 1
            }
        }
        if !line.isEmpty { lines.append(String(line)) }
        return (lines, drawn)
    }

    /// The last progress line drawn (`\rPREFIX…`) is erased (`\r` ESC `[K`) before anything else is written.
    private func expectLastBarCleared(_ output: [UInt8], prefix: String) throws {
        let text = String(decoding: output, as: UTF8.self)
        let last = try #require(text.range(of: "\r" + prefix, options: .backwards))
        let after = text[last.upperBound...]
        let next = try #require(after.firstIndex(of: "\r"), "never cleared: \(after.debugDescription)")
        #expect(after[next...].hasPrefix("\r\u{1B}[K"), "not cleared: \(after.debugDescription)")
    }

    @Test("on a terminal the line fits 40 columns (its size, else COLUMNS) with a wide name, and is cleared at the end")
    func terminalLine() async throws {
        let cluster = try await TestCluster.started(segmentSize: 1 << 20)
        let name = "写真-とても長い名前のファイル-very-long-name.bin"
        let big = try cluster.writeScratch(name, try randomContent(48 << 20))
        #expect(try await cluster.run(["ls"]).status == 0)  // the first command's note (keys created) out of the way
        for (columns, environment) in [(UInt16(40), ["COLUMNS": "200"]), (UInt16(0), ["COLUMNS": "40"])] {
            let run = try await runOnTerminal(cluster, ["put", big], columns: columns, environment: environment)
            #expect(run.status == 0, "\(String(decoding: run.output, as: UTF8.self))")
            let (lines, drawn) = screen(run.output)
            let bars = drawn.filter { $0.hasPrefix("put ") }
            #expect(!bars.isEmpty, "no progress line was drawn: \(drawn)")
            for bar in bars {
                #expect(TerminalText.columns(bar) <= 39, "\(TerminalText.columns(bar)) columns: \(bar)")
            }
            #expect(bars.contains { $0.contains("写真") }, "the name is shown, cut to fit: \(bars)")
            try expectLastBarCleared(run.output, prefix: "put ")
            // What stays on the screen: the stored line and the summary, no trace of the bar.
            #expect(lines.count == 2, "\(lines)")
            #expect(lines.first?.hasPrefix("stored 写真") == true, "\(lines)")
            #expect(lines.last?.hasPrefix("edfs: stored 1 file, 48.0 MiB in ") == true, "\(lines)")
        }
        // check prints its report after the bar: the bar is cleared first (by the display's end, not by a line).
        let check = try await runOnTerminal(cluster, ["check", "--read-data"], columns: 40, environment: [:])
        #expect(check.status == 0, "\(String(decoding: check.output, as: UTF8.self))")
        #expect(screen(check.output).drawn.contains { $0.hasPrefix("check ") }, "\(screen(check.output).drawn)")
        try expectLastBarCleared(check.output, prefix: "check ")
        #expect(screen(check.output).lines.allSatisfy { !$0.contains("check 0:") }, "\(screen(check.output).lines)")
        // --quiet: nothing but the stored line.
        let quiet = try await runOnTerminal(cluster, ["put", big, "--quiet"], columns: 40, environment: [:])
        #expect(screen(quiet.output).lines.count == 1 && screen(quiet.output).drawn.isEmpty,
                "\(String(decoding: quiet.output, as: UTF8.self))")
    }

    @Test("SIGTERM during key rotate --reencrypt: exit 130, how far it got, and running it again finishes it")
    func interruptedRotation() async throws {
        let cluster = try await TestCluster.started(segmentSize: 1 << 20)
        let big = cluster.scratch("big.bin")
        let content = try writeRandomFile(big, mebibytes: 96)
        let small = try cluster.writeScratch("small.bin", try randomContent(1000))
        #expect(try await cluster.run(["put", big, small]).status == 0)

        let errPath = cluster.scratch("rotate.err")
        FileManager.default.createFile(atPath: errPath, contents: nil)
        let process = Process()
        process.executableURL = try EDFSBinary.url()
        process.arguments = ["key", "rotate", "--reencrypt", "--json", "--config", cluster.clientConfigPath]
        // The rotation waits after its first file (a test hook), so the signal lands mid-rotation on any machine.
        process.environment = ProcessInfo.processInfo.environment.merging(
            ["EDFS_PASSWORD": cluster.passwordText, "EDFS_TEST_PAUSE_AFTER_FILES": "1"]) { $1 }
        process.standardOutput = FileHandle.nullDevice
        process.standardError = try FileHandle(forWritingTo: URL(fileURLWithPath: errPath))
        try process.run()
        let deadline = Date().addingTimeInterval(60)
        // Wait for a status line that shows re-encrypted bytes moving (the pause keeps it from finishing).
        while process.isRunning && Date() < deadline,
              !((try? String(contentsOfFile: errPath, encoding: .utf8)) ?? "").split(separator: "\n").contains(where: {
                  $0.contains("\"message_type\":\"status\"") && !$0.contains("\"bytes_done\":0,")
              }) {
            try await Task.sleep(for: .milliseconds(5))
        }
        kill(process.processIdentifier, SIGTERM)
        await process.exited()
        let stderr = try String(contentsOfFile: errPath, encoding: .utf8)
        try #require(process.terminationStatus != 0, "the rotation finished before the signal; nothing was tested")
        #expect(process.terminationStatus == 130, "\(stderr)")
        let line = stderr.split(separator: "\n").filter { $0.hasPrefix("edfs: interrupted: ") }
        #expect(line.count == 1 && line.first?.hasSuffix("run edfs key rotate again to finish it (it stays a re-encryption)") == true,
                "\(stderr)")
        #expect(try jsonLines(stderr).allSatisfy { $0["message_type"] as? String == "status" }, "no summary: \(stderr)")

        let again = try await cluster.run(["key", "rotate"])
        #expect(again.status == 0 && again.stdout.contains("(resumed)"), "\(again.stdout) \(again.stderr)")
        let copy = cluster.scratch("big-copy")
        #expect(try await cluster.run(["get", "big.bin", "-o", copy]).status == 0)
        #expect(try Array(Data(contentsOf: URL(fileURLWithPath: copy))) == content)
    }

    /// Starts `edfs put ARGUMENTS` with stdout and stderr in files; returns once `ready` holds for its stdout (or after
    /// 60 s, or when it ended).
    private func startPut(_ cluster: TestCluster, _ arguments: [String],
                          until ready: (String) -> Bool) async throws -> (process: Process, out: String, err: String) {
        let outPath = cluster.scratch("put.out"), errPath = cluster.scratch("put.err")
        FileManager.default.createFile(atPath: outPath, contents: nil)
        FileManager.default.createFile(atPath: errPath, contents: nil)
        let process = Process()
        process.executableURL = try EDFSBinary.url()
        process.arguments = ["put"] + arguments + ["--config", cluster.clientConfigPath]
        process.environment = ProcessInfo.processInfo.environment.merging(["EDFS_PASSWORD": cluster.passwordText]) { $1 }
        process.standardOutput = try FileHandle(forWritingTo: URL(fileURLWithPath: outPath))
        process.standardError = try FileHandle(forWritingTo: URL(fileURLWithPath: errPath))
        try process.run()
        let deadline = Date().addingTimeInterval(60)
        while process.isRunning && Date() < deadline, !ready((try? String(contentsOfFile: outPath, encoding: .utf8)) ?? "") {
            try await Task.sleep(for: .milliseconds(2))
        }
        return (process, outPath, errPath)
    }

    /// SIGINTs a started put, waits for it, and returns what it wrote; requires that it had not finished already.
    private func interrupt(_ process: Process, _ outPath: String, _ errPath: String) async throws -> (String, String) {
        kill(process.processIdentifier, SIGINT)
        await process.exited()
        try #require(process.terminationStatus != 0, "the put finished before the interrupt; nothing was tested")
        return (try String(contentsOfFile: outPath, encoding: .utf8), try String(contentsOfFile: errPath, encoding: .utf8))
    }

    @Test("SIGINT during a put of many small files in flight: one line naming every file under way; what it says stored is stored, what it says not stored is not")
    func interruptedConcurrentPut() async throws {
        let cluster = try await TestCluster.started(segmentSize: 1 << 20)
        #expect(try await cluster.run(["mkdir", "other"]).status == 0)  // the first command makes the keys (a note line)
        let folder = cluster.scratch("many")
        try FileManager.default.createDirectory(atPath: folder, withIntermediateDirectories: true)
        for index in 0..<1500 {
            try Data(try randomContent(2048)).write(to: URL(fileURLWithPath: folder + String(format: "/f%04d", index)))
        }
        let (process, outPath, errPath) = try await startPut(cluster, [folder]) { $0.split(separator: "\n").count >= 20 }
        let (stdout, stderr) = try await interrupt(process, outPath, errPath)
        #expect(process.terminationStatus == 130)
        #expect(stderr.split(separator: "\n").count == 1, "one line: \(stderr)")
        let stored = Set(stdout.split(separator: "\n").filter { $0.hasPrefix("stored many/") }
            .compactMap { $0.split(separator: " ").dropFirst().first.map(String.init) })
        // The count the line gives: every file counted has its line; a file whose line was out when the interrupt
        // came but not yet counted is among those being committed (at most the 64 a put keeps in flight).
        let stated = stderr.hasPrefix("edfs: interrupted: ")
            ? Int(stderr.dropFirst("edfs: interrupted: ".count).prefix { $0.isNumber }) : nil
        #expect(stated.map { $0 <= stored.count && stored.count <= $0 + 64 } == true, "\(stored.count): \(stderr)")
        #expect(stderr.contains(" of 1500 files stored"), "\(stderr)")
        // The files the line says were not stored: each named, none readable; their names follow "; " up to " was" / " were".
        let notStored: [String]
        if let range = stderr.range(of: #"; ([^;]*) (was|were) not stored"#, options: .regularExpression) {
            let clause = String(stderr[range]).dropFirst(2)
            let names = clause.components(separatedBy: " was not stored").first?.components(separatedBy: " were not stored").first ?? ""
            notStored = names.components(separatedBy: ", ")
        } else {
            notStored = []
        }
        #expect(!notStored.isEmpty || stderr.contains("being committed"), "some file was under way: \(stderr)")
        #expect(notStored.allSatisfy { $0.hasPrefix("many/f") && !stored.contains($0) }, "\(notStored)")
        for name in notStored.prefix(5) {
            #expect(try await cluster.run(["get", name, "-o", cluster.scratch("nope")]).status == 66, "\(name) was not stored")
        }
        let listed = Set(try await cluster.run(["ls", "many"]).stdout.split(separator: "\n").map { "many/" + $0 })
        #expect(stored.isSubset(of: listed), "every file reported stored is stored")
    }

    @Test("SIGINT during a put of several files: exit 130, what was stored, the previous version intact")
    func interruptedPut() async throws {
        let cluster = try await TestCluster.started(segmentSize: 1 << 20)
        let old = try randomContent(100_000)
        let firstB = try cluster.writeScratch("b.bin", old)
        #expect(try await cluster.run(["put", firstB]).status == 0)
        let folder = cluster.scratch("new")
        try FileManager.default.createDirectory(atPath: folder, withIntermediateDirectories: true)
        let a = folder + "/a.bin", b = folder + "/b.bin", c = folder + "/c.bin"
        FileManager.default.createFile(atPath: a, contents: Data(try randomContent(10_000)))
        _ = try writeRandomFile(b, mebibytes: 200)
        FileManager.default.createFile(atPath: c, contents: Data(try randomContent(10_000)))

        let (process, outPath, errPath) = try await startPut(cluster, [a, b, c]) { $0.contains("stored a.bin") }
        try await Task.sleep(for: .milliseconds(200))  // b.bin is on its way
        let (stdout, stderr) = try await interrupt(process, outPath, errPath)
        #expect(process.terminationStatus == 130)
        #expect(stdout.hasPrefix("stored a.bin") && !stdout.contains("b.bin"), "\(stdout)")
        #expect(stderr.contains("edfs: interrupted: 1 of 3 files stored; b.bin was not stored, its previous version (if any) is intact"),
                "\(stderr)")
        #expect(stderr.split(separator: "\n").count == 1, "one line: \(stderr)")

        let copy = cluster.scratch("b-copy")
        let get = try await cluster.run(["get", "b.bin", "-o", copy])
        #expect(get.status == 0, "\(get.stderr)")
        #expect(try Array(Data(contentsOf: URL(fileURLWithPath: copy))) == old, "the previous version is intact")
        #expect(try await cluster.run(["get", "c.bin", "-o", cluster.scratch("c-copy")]).status == 66, "c.bin was not stored")
    }
}
}
