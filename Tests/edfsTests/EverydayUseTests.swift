import EDFSClient
import EDFSFormat
import EDFSTestSupport
import Foundation
import Testing

extension BinaryCommandSuites {
/// What a person meets first: the version, help with examples and without internal words, the man page, `ls -l`,
/// `--verbose`, a pipe into `head`, a broken CA line (docs/CLI.md).
@Suite("edfs everyday use", .serialized)
struct EverydayUseTests {
    /// One command of `edfs --experimental-dump-help`: its path, help texts and long option names.
    struct CommandHelp {
        var path: [String]
        var texts: [String]
        var longNames: [String]
        var isLeaf: Bool
    }

    /// Every command the help shows (hidden ones left out), from the parser's own description of the tree.
    static func commands() async throws -> [CommandHelp] {
        let dump = try await EDFSBinary.run(["--experimental-dump-help"])
        #expect(dump.status == 0, "\(dump.stderr)")
        let root = try #require(try JSONSerialization.jsonObject(with: Data(dump.stdout.utf8)) as? [String: Any])
        var result = [CommandHelp]()
        func walk(_ command: [String: Any], path: [String]) {
            var texts = [command["abstract"] as? String ?? "", command["discussion"] as? String ?? ""]
            var names = [String]()
            for argument in command["arguments"] as? [[String: Any]] ?? [] where argument["shouldDisplay"] as? Bool ?? true {
                texts.append(argument["abstract"] as? String ?? "")
                for name in argument["names"] as? [[String: Any]] ?? [] where name["kind"] as? String == "long" {
                    if let text = name["name"] as? String { names.append(text) }
                }
            }
            let children = (command["subcommands"] as? [[String: Any]] ?? []).filter { $0["shouldDisplay"] as? Bool ?? true }
            result.append(CommandHelp(path: path, texts: texts, longNames: names, isLeaf: children.isEmpty))
            for child in children where child["commandName"] as? String != "help" {
                walk(child, path: path + [child["commandName"] as? String ?? "?"])
            }
        }
        walk(try #require(root["command"] as? [String: Any]), path: [])
        return result
    }

    @Test("--version prints the package's version")
    func version() async throws {
        let outcome = try await EDFSBinary.run(["--version"])
        #expect(outcome.status == 0)
        #expect(outcome.stdout == SoftwareVersion.text + "\n")
    }

    @Test("every command's help has examples, and no internal words")
    func helpTexts() async throws {
        let commands = try await Self.commands()
        #expect(commands.count > 25, "the tree: \(commands.map { $0.path.joined(separator: " ") })")
        let jargon = ["keyslot", "epoch", "seed", "design.md", "issue 1", "issue 2", "issue 3", "issue 4", "issue 5", "issue 6", "issue 7", "issue 8", "issue 9", "§", "todo"]
        for command in commands {
            let name = (["edfs"] + command.path).joined(separator: " ")
            let text = command.texts.joined(separator: "\n")
            if command.isLeaf { #expect(text.contains("Examples"), "\(name) --help has no examples") }
            for word in jargon where text.lowercased().contains(word) {
                Issue.record("\(name) --help says \"\(word)\": \(text)")
            }
        }
    }

    @Test("shell completion scripts for bash, zsh and fish (docs/CLI.md)")
    func completions() async throws {
        for shell in ["bash", "zsh", "fish"] {
            let outcome = try await EDFSBinary.run(["--generate-completion-script", shell])
            #expect(outcome.status == 0, "\(shell): \(outcome.stderr)")
            #expect(outcome.stdout.contains("edfs") && outcome.stdout.contains("put") && outcome.stdout.contains("output"),
                    "\(shell)")
        }
    }

    @Test("a value not among the allowed ones: one line that lists them")
    func allowedValues() async throws {
        let outcome = try await EDFSBinary.run(["node", "--log-level", "bogus"])
        #expect(outcome.status == 64)
        #expect(outcome.stderr == "edfs: The value 'bogus' is invalid for '--log-level <level>': use one of trace, debug, "
                + "info, notice, warning, error, critical: see edfs node --help\n")
    }

    @Test("docs/edfs.1 lists every command and option (Scripts/make-manual.sh regenerates it)")
    func manualPage() async throws {
        let page = URL(fileURLWithPath: #filePath).deletingLastPathComponent().deletingLastPathComponent()
            .deletingLastPathComponent().appendingPathComponent("docs/edfs.1")
        let text = try String(contentsOf: page, encoding: .utf8)
        for command in try await Self.commands() {
            let name = (["edfs"] + command.path).joined(separator: " ")
            if let last = command.path.last {
                #expect(text.contains(".It Em \(last)\n"), "docs/edfs.1 misses \(name): run Scripts/make-manual.sh")
            }
            for option in command.longNames {
                #expect(text.contains("Fl -\(option)") || text.contains(", -\(option)"),
                        "docs/edfs.1 misses \(name) --\(option): run Scripts/make-manual.sh")
            }
        }
    }

    @Test("ls -l: a header, fitted columns, the stored time; --json times in ISO 8601; exit 69 for an unreadable file")
    func longListing() async throws {
        let cluster = try await TestCluster.started()
        let before = Int64(Date().timeIntervalSince1970)
        let source = try cluster.writeScratch("notes.txt", try randomContent(70_000))
        #expect(try await cluster.run(["put", source, "--as", "a/notes.txt"]).status == 0)
        let after = Int64(Date().timeIntervalSince1970)

        let long = try await cluster.run(["ls", "-l", "-R"])
        #expect(long.status == 0, "\(long.stderr)")
        let lines = long.stdout.split(separator: "\n").map(String.init)
        #expect(lines.first?.split(separator: " ", omittingEmptySubsequences: true) == ["SIZE", "MODIFIED", "STORED", "HEALTH", "NAME"])
        #expect(lines.count == 3 && lines.last?.hasSuffix("  a/notes.txt") == true, "\(long.stdout)")
        // Every row starts its columns where the header does.
        let nameColumn = try #require(lines.first?.range(of: "NAME")?.lowerBound.utf16Offset(in: lines[0]))
        for line in lines.dropFirst() { #expect(line.utf16.count > nameColumn && line.dropFirst(nameColumn).first != " ") }

        let json = try await cluster.run(["ls", "-R", "--json"])
        let entries = try #require(try JSONSerialization.jsonObject(with: Data(json.stdout.utf8)) as? [[String: Any]])
        let file = try #require(entries.first { $0["name"] as? String == "a/notes.txt" })
        let stored = try #require(file["stored"] as? Int64 ?? (file["stored"] as? Int).map(Int64.init))
        #expect(stored >= before && stored <= after)
        let iso = ISO8601DateFormatter()
        #expect(iso.date(from: file["storedTime"] as? String ?? "").map { Int64($0.timeIntervalSince1970) } == stored)
        let modified = try #require(file["modified"] as? Int64 ?? (file["modified"] as? Int).map(Int64.init))
        #expect(iso.date(from: file["modifiedTime"] as? String ?? "").map { Int64($0.timeIntervalSince1970) } == modified)
        #expect(lines.last?.contains(file["storedTime"] as? String ?? "?") == true)

        // Every replica of one stripe gone: the file is listed as unavailable, and ls says so in its exit code.
        let record = try await cluster.withSession { session in
            try #require(try await ManifestReader(session).lookUp(path: "a/notes.txt").live)
        }
        let object = try record.stripeHeader(0).objectName
        for node in try record.nodes(ofStripe: 0) {
            try FileManager.default.removeItem(atPath: try #require(cluster.objectFiles(node: node)[object]))
        }
        let broken = try await cluster.run(["ls", "-l", "a"])
        #expect(broken.status == 69, "\(broken.stdout)\(broken.stderr)")
        #expect(broken.stdout.contains("unavailable") && broken.stderr.contains("not healthy"))
        #expect(broken.stderr.contains("edfs: a/notes.txt is unavailable (stripe 0 has 0 of 2 replicas"), "\(broken.stderr)")
        // Every node answered, so starting nodes is not the remedy (attack finding, issue 15).
        #expect(broken.stderr.contains("every node answered, so its replicas are missing or damaged"), "\(broken.stderr)")
        #expect(!broken.stderr.contains("start the nodes that are down"), "\(broken.stderr)")
    }

    @Test("get -o - into a reader that stops early: no message, exit 141; key export takes -o")
    func pipeAndOutputOption() async throws {
        let cluster = try await TestCluster.started()
        let source = try cluster.writeScratch("big.bin", try randomContent(3_000_000))
        #expect(try await cluster.run(["put", source]).status == 0)
        let errors = cluster.scratch("stderr.txt")
        let shell = Process()
        shell.executableURL = URL(fileURLWithPath: "/bin/bash")
        shell.arguments = ["-c", "\"$@\" 2>\"$ERRORS\" | head -c 10 >/dev/null; echo \"${PIPESTATUS[0]}\"", "pipe",
                           try EDFSBinary.url().path, "get", "big.bin", "-o", "-", "--config", cluster.clientConfigPath]
        shell.environment = ProcessInfo.processInfo.environment.merging(
            ["EDFS_PASSWORD": cluster.passwordText, "ERRORS": errors]) { $1 }
        let out = Pipe()
        shell.standardOutput = out
        try shell.run()
        let reader = out.fileHandleForReading
        let status = await offPool { String(decoding: reader.readDataToEndOfFile(), as: UTF8.self) }
        await shell.exited()
        #expect(status.trimmingCharacters(in: .whitespacesAndNewlines) == "141")
        #expect(try String(contentsOfFile: errors, encoding: .utf8) == "")

        let keys = cluster.scratch("keys.backup")
        let export = try await EDFSBinary.run(["key", "export", "-o", keys, "--config", cluster.clientConfigPath],
                                              environment: ["EDFS_PASSWORD": cluster.passwordText,
                                                            "EDFS_EXPORT_PASSPHRASE": "a separate passphrase"])
        #expect(export.status == 0, "\(export.stderr)")
        #expect(FileManager.default.fileExists(atPath: keys))
        #expect(try await cluster.run(["key", "export"]).status == 64)
    }

    @Test("nodes whose disks are full: the put says which and what to do, not 'start the nodes'; a small put still works",
          .enabled(if: getuid() == 0, "mounts a tmpfs per node (root)"))
    func fullDisks() async throws {
        // A 4 MiB tmpfs as every node's data folder; each unmounted once the nodes stop, whatever happens.
        nonisolated(unsafe) var mounted = [String]()
        func unmountAll() { for folder in mounted { _ = try? commandBlocking(["umount", "-l", folder]) }; mounted = [] }
        defer { unmountAll() }
        let cluster = try TestCluster { local in
            for name in local.nodeNames {
                let folder = local.dataDirectory(name)
                let mount = try commandBlocking(["mount", "-t", "tmpfs", "-o", "size=4m,mode=0700", "tmpfs", folder])
                #expect(mount.status == 0, "\(mount.stderr)")
                if mount.status == 0 { mounted.append(folder) }
            }
        }
        defer {
            cluster.cluster.stop()
            unmountAll()
        }
        let big = try cluster.writeScratch("big.bin", try randomContent(12_000_000))
        let put = try await cluster.run(["put", big])
        #expect(put.status == 69, "\(put.stderr)")
        let last = put.stderr.split(separator: "\n").last.map(String.init) ?? ""
        #expect(last.contains("no space left") && last.contains("edfs status") && !last.contains("start the nodes"), "\(last)")
        #expect(!put.stderr.contains("CancellationError") && !put.stderr.contains("storage full: storage full"), "\(put.stderr)")
        #expect(try await cluster.run(["ls", "big.bin"]).status == 66, "nothing of the failed put is listed")
        let small = try await cluster.run(["put", try cluster.writeScratch("small.txt", Array("still room".utf8))])
        #expect(small.status == 0, "\(small.stderr)")

        // The put's last line sends the operator to `edfs status`: with two disks filled up to 64 KiB, it must
        // flag them (degraded, exit 3), and be healthy again once they are freed (attack finding: it said healthy).
        #expect(try await cluster.run(["status"]).status == 0)
        let fillers = try mounted.prefix(2).map { folder in
            let free = try #require(try FileManager.default.attributesOfFileSystem(forPath: folder)[.systemFreeSize] as? Int)
            let filler = folder + "/filler"
            try Data(count: max(free - 65_536, 0)).write(to: URL(fileURLWithPath: filler))
            return filler
        }
        let low = try await cluster.run(["status"])
        #expect(low.status == 3, "\(low.stdout)\(low.stderr)")
        let lowLines = low.stdout.split(separator: "\n").map(String.init)
        #expect(lowLines.last == "state: degraded")
        #expect(lowLines.filter { $0.contains("(low: puts may fail)") }.count == 2, "\(low.stdout)")
        for filler in fillers { try FileManager.default.removeItem(atPath: filler) }
        #expect(try await cluster.run(["status"]).status == 0)
    }

    @Test("--verbose logs each node's login and the library error behind a message; a bad CA line is said before any prompt")
    func verboseAndConfigChecks() async throws {
        let cluster = try await TestCluster.started()
        let verbose = try await cluster.run(["ls", "--verbose"])
        #expect(verbose.status == 0, "\(verbose.stderr)")
        for name in cluster.cluster.nodeNames { #expect(verbose.stderr.contains("\(name) (") && verbose.stderr.contains("logged in as")) }
        #expect(!verbose.stderr.contains(cluster.passwordText))
        #expect(try await cluster.run(["ls"]).stderr.isEmpty, "no log without --verbose")

        // A config whose CA file is missing: one line naming the file and the fix, exit 1, and no password asked
        // (there is none to read: no EDFS_PASSWORD and an empty standard input).
        let config = try String(contentsOfFile: cluster.clientConfigPath, encoding: .utf8)
        let broken = cluster.scratch("broken.conf")
        try config.split(separator: "\n").filter { !$0.hasPrefix("CA:") && !$0.hasPrefix("Keys:") }
            .joined(separator: "\n").appending("\nCA: missing-ca.crt\n").write(toFile: broken, atomically: true, encoding: .utf8)
        let outcome = try await EDFSBinary.run(["ls", "--config", broken], environment: ["EDFS_PASSWORD": ""])
        #expect(outcome.status == 1, "\(outcome.stderr)")
        #expect(outcome.stderr.contains("missing-ca.crt: no such file") && outcome.stderr.contains("CA:"))
        #expect(outcome.stderr.split(separator: "\n").count == 1 && !outcome.stderr.contains("password"))

        // No config at all: say how to name one.
        let empty = cluster.scratch("empty")
        try FileManager.default.createDirectory(atPath: empty, withIntermediateDirectories: true)
        let none = try await EDFSBinary.run(["ls"], environment: ["EDFS_CONFIG": "", "EDFS_PASSWORD": ""], directory: empty)
        #expect(none.status == 1 && none.stderr.contains("pass --config FILE or set EDFS_CONFIG"), "\(none.stderr)")
    }
}
}
