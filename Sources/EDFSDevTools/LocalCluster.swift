import EDFSCrypto
import EDFSClient
import EDFSFormat
import Dispatch
import Foundation

/// A cluster of real `edfs node` processes on loopback: development certificates, one node config, N data folders,
/// and the matching client config. Used by `edfs cluster up`, `edfs demo` and the end-to-end tests.
public final class LocalCluster: @unchecked Sendable {
    // @unchecked Sendable: the only mutable state (`processes`, `ports`) lives in `state`, a PthreadMutex; `Process`
    // itself is not Sendable, but it is only touched while the lock is held or after being taken out of it by one
    // caller.

    public struct Options: Sendable {
        public var nodes: Int = 4
        public var replicas: Int = 2
        public var writeQuorum: Int?
        public var directory: String
        /// First port; node i listens on basePort + i. Nil: every node takes an ephemeral port.
        public var basePort: Int?
        public var user: String = "demo"
        public var segmentSize: Int?
        /// Extra `Key: value` lines for the node config (limits in tests).
        public var nodeSettings: [String: String] = [:]

        public init(directory: String) { self.directory = directory }
    }

    public let options: Options
    public let executable: URL
    /// `DIR/dfs.conf`, the node config.
    public let nodeConfigPath: String
    /// `DIR/dfc.conf`, the client config (written once every node listens).
    public let clientConfigPath: String
    public let keysDirectory: String

    struct RunState {
        var processes: [Process?]
        var ports: [Int]
        /// Set while the watcher (`watch`) runs; cleared to stop it.
        var watching = false
        /// Signalled by the watcher thread when it has stopped.
        var watcherStopped: DispatchSemaphore?
    }
    let state: PthreadMutex<RunState>

    /// Node names: DFS1, DFS2, …
    public var nodeNames: [String] { (1...options.nodes).map { "DFS\($0)" } }

    /// Prepares the folder: certificates, node config, data folders. With a `password`, the node config gets the
    /// user's legacy digest (a new user); with nil, the users and their verifiers of the folder's existing `dfs.conf`
    /// are kept (`ExistingSetup`), so the password chosen when the folder was set up stays the one that logs in.
    public init(options: Options, executable: URL, password: SecureBytes?) throws {
        guard options.nodes >= 1, options.nodes <= 64 else { throw LocalClusterError.invalid("node count must be 1…64") }
        guard options.replicas >= 1, options.replicas <= options.nodes else {
            throw LocalClusterError.invalid("replicas must be 1…\(options.nodes)")
        }
        guard NameRules.isValidUserName(options.user) else { throw LocalClusterError.invalid("bad user name \"\(options.user)\"") }
        if let base = options.basePort, base < 1 || base + options.nodes - 1 > 65535 {
            throw LocalClusterError.invalid("base port \(base) leaves no room for \(options.nodes) nodes")
        }
        self.options = options
        self.executable = executable
        let dir = options.directory
        nodeConfigPath = dir + "/dfs.conf"
        clientConfigPath = dir + "/dfc.conf"
        keysDirectory = dir + "/Keys"
        state = PthreadMutex(RunState(processes: Array(repeating: nil, count: options.nodes),
                               ports: (0..<options.nodes).map { i in options.basePort.map { $0 + i } ?? 0 }))

        try FileManager.default.createDirectory(atPath: dir, withIntermediateDirectories: true,
                                                attributes: [.posixPermissions: 0o700])
        _ = try DevelopmentPKI.initialize(directory: keysDirectory, nodeNames: nodeNames,
                                          hosts: DevelopmentPKI.defaultHosts, force: false)
        let userLines: [String]
        if let password {
            let digest = password.withUnsafeBytes { Hex.encode(Digest.md5($0)) }
            userLines = ["Username: \(options.user)", "Password: \(digest)"]
        } else {
            guard let existing = try ExistingSetup.read(directory: dir), existing.users.contains(options.user) else {
                throw LocalClusterError.invalid("\(nodeConfigPath) has no user \(options.user) to keep")
            }
            userLines = existing.userLines
        }
        var lines = ["# edfs local cluster: node config (written by edfs cluster up)", "Keys: Keys"]
        for (i, name) in nodeNames.enumerated() {
            lines.append("Server \(name) 127.0.0.1:\(options.basePort.map { $0 + i } ?? 10001 + i)")
        }
        lines += userLines
        for (key, value) in options.nodeSettings.sorted(by: { $0.key < $1.key }) { lines.append("\(key): \(value)") }
        try Self.writeFile(nodeConfigPath, lines.joined(separator: "\n") + "\n", mode: 0o600)
        for name in nodeNames {
            try FileManager.default.createDirectory(atPath: dataDirectory(name), withIntermediateDirectories: true)
        }
    }

    /// The data folder of node `name`.
    public func dataDirectory(_ name: String) -> String { options.directory + "/data/" + name }

    /// Starts every node and writes the client config. Throws if a node does not come up in time.
    public func start(timeout: Double = 20) throws {
        for index in 0..<options.nodes { try startNode(index, timeout: timeout) }
        try writeClientConfig()
    }

    /// `DIR/NODE.log`: the node's output, appended to on every start.
    public func logPath(_ name: String) -> String { options.directory + "/\(name).log" }

    /// Starts node `index` (again), on its previous port if it had one. Its output is appended to its log, so the
    /// lines of an earlier run (why it exited) stay.
    public func startNode(_ index: Int, timeout: Double = 20) throws {
        let name = nodeNames[index]
        let logPath = logPath(name)
        if !FileManager.default.fileExists(atPath: logPath) {
            FileManager.default.createFile(atPath: logPath, contents: nil)
        }
        let log = try FileHandle(forWritingTo: URL(fileURLWithPath: logPath))
        let startOffset = try log.seekToEnd()
        let port = state.withLock { $0.ports[index] }
        let process = Process()
        process.executableURL = executable
        process.arguments = ["node", "--config", nodeConfigPath, "--name", name, "--data", dataDirectory(name),
                             "--listen", "127.0.0.1:\(port)"]
        process.standardOutput = log
        process.standardError = log
        process.standardInput = FileHandle.nullDevice
        var environment = ProcessInfo.processInfo.environment
        environment["EDFS_PASSWORD"] = nil  // nodes never need the user's password
        process.environment = environment
        try process.run()
        try? log.close()
        state.withLock { $0.processes[index] = process }
        let deadline = Date().addingTimeInterval(timeout)
        while Date() < deadline {
            if let text = Self.text(ofFile: logPath, from: startOffset), let bound = Self.listeningPort(in: text) {
                state.withLock { $0.ports[index] = bound }
                return
            }
            if !process.isRunning {
                throw LocalClusterError.nodeFailed(name, Self.lastLine(ofFile: logPath))
            }
            usleep(20_000)
        }
        process.terminate()
        throw LocalClusterError.nodeFailed(name, "did not listen within \(Int(timeout)) s; see \(logPath)")
    }

    /// Stops node `index`: SIGTERM (clean) or SIGKILL (a crash), and waits for it to exit.
    public func stopNode(_ index: Int, kill: Bool = false) {
        guard let process = state.withLock({ s -> Process? in
            defer { s.processes[index] = nil }
            return s.processes[index]
        }) else { return }
        if process.isRunning {
            Foundation.kill(process.processIdentifier, kill ? SIGKILL : SIGTERM)
            let deadline = Date().addingTimeInterval(10)
            while process.isRunning && Date() < deadline { usleep(10_000) }
            if process.isRunning { Foundation.kill(process.processIdentifier, SIGKILL) }
        }
        process.waitUntilExit()
    }

    /// Stops the watcher, if any, then every node.
    public func stop() {
        stopWatching()
        for index in 0..<options.nodes { stopNode(index) }
    }

    /// The process id of node `index`, while it runs.
    public func processIdentifier(_ index: Int) -> Int32? {
        state.withLock { $0.processes[index].flatMap { $0.isRunning ? $0.processIdentifier : nil } }
    }

    /// Whether node `index` is running.
    public func isRunning(_ index: Int) -> Bool { processIdentifier(index) != nil }

    /// The port node `index` listens (or last listened) on.
    public func port(_ index: Int) -> Int { state.withLock { $0.ports[index] } }

    /// Writes `DIR/dfc.conf` with every node's actual address; returns its text.
    @discardableResult
    public func writeClientConfig() throws -> String {
        var lines = ["# edfs local cluster: client config (written by edfs cluster up)",
                     "Keys: Keys", "CA: Keys/ca.crt"]
        for (i, name) in nodeNames.enumerated() { lines.append("Server \(name) 127.0.0.1:\(port(i))") }
        lines.append("Username: \(options.user)")
        lines.append("Replicas: \(options.replicas)")
        if let quorum = options.writeQuorum { lines.append("WriteQuorum: \(quorum)") }
        if let segment = options.segmentSize { lines.append("SegmentSize: \(segment)") }
        let text = lines.joined(separator: "\n") + "\n"
        try Self.writeFile(clientConfigPath, text, mode: 0o644)
        return text
    }

    deinit { stop() }

    static func listeningPort(in log: String) -> Int? {
        guard let range = log.range(of: "listening on ") else { return nil }
        let rest = log[range.upperBound...].prefix { !$0.isWhitespace }
        guard let colon = rest.lastIndex(of: ":") else { return nil }
        return Int(rest[rest.index(after: colon)...].filter(\.isNumber))
    }

    /// The file's text from byte `offset` on.
    private static func text(ofFile path: String, from offset: UInt64) -> String? {
        guard let handle = FileHandle(forReadingAtPath: path) else { return nil }
        defer { try? handle.close() }
        guard (try? handle.seek(toOffset: offset)) != nil, let data = try? handle.readToEnd() else { return nil }
        return String(decoding: data, as: UTF8.self)
    }

    private static func lastLine(ofFile path: String) -> String {
        let text = (try? String(contentsOfFile: path, encoding: .utf8)) ?? ""
        guard let last = text.split(separator: "\n").last else { return "exited without output" }
        // The node's own error line ("edfs: node X: …") is quoted inside another edfs line: drop its prefix.
        return last.hasPrefix("edfs: ") ? String(last.dropFirst(6)) : String(last)
    }

    /// Writes `text` to `path` atomically, the file created with `mode` from the start (it may hold a login digest).
    static func writeFile(_ path: String, _ text: String, mode: Int) throws {
        let temp = path + ".tmp"
        unlink(temp)
        let fd = open(temp, O_WRONLY | O_CREAT | O_EXCL | O_CLOEXEC, mode_t(mode))
        guard fd >= 0 else { throw LocalClusterError.io("cannot write \(temp)") }
        let bytes = Array(text.utf8)
        let written = bytes.withUnsafeBytes { write(fd, $0.baseAddress, $0.count) }
        let synced = fsync(fd)
        close(fd)
        guard written == bytes.count, synced == 0, rename(temp, path) == 0 else {
            unlink(temp)
            throw LocalClusterError.io("cannot write \(path)")
        }
    }
}

/// Why a local cluster could not be set up or run.
public enum LocalClusterError: Error, Equatable, Sendable, CustomStringConvertible {
    case invalid(String)
    case nodeFailed(String, String)
    case io(String)

    public var description: String {
        switch self {
        case let .invalid(why): return "local cluster: \(why)"
        case let .nodeFailed(name, why): return "node \(name) failed to start: \(why)"
        case let .io(why): return "local cluster: \(why)"
        }
    }
}
