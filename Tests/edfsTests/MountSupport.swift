import EDFSTestSupport
import Foundation
import Glibc

/// Whether this machine can run `edfs mount`, and why not.
enum FUSEAvailability {
    /// nil when /dev/fuse opens, we are root and fusermount3 is installed; else the reason the mount tests skip.
    static let missing: String? = {
        let fd = open("/dev/fuse", O_RDWR | O_CLOEXEC)
        guard fd >= 0 else { return "/dev/fuse cannot be opened (\(String(cString: strerror(errno)))): mount tests skipped" }
        close(fd)
        guard geteuid() == 0 else { return "not root: the mount tests need mount rights, skipped" }
        guard FileManager.default.isExecutableFile(atPath: "/usr/bin/fusermount3")
                || FileManager.default.isExecutableFile(atPath: "/bin/fusermount3") else {
            return "fusermount3 is not installed (Scripts/install-deps.sh installs fuse3): mount tests skipped"
        }
        return nil
    }()
}

/// Mount points listed in /proc/self/mountinfo (field 5, octal escapes decoded).
func mountedPaths() -> [String] {
    guard let text = try? String(contentsOfFile: "/proc/self/mountinfo", encoding: .utf8) else { return [] }
    return text.split(separator: "\n").compactMap { line in
        let fields = line.split(separator: " ")
        guard fields.count > 4 else { return nil }
        return String(fields[4]).replacingOccurrences(of: "\\040", with: " ")
    }
}

/// A command's outcome.
typealias Outcome = EDFSBinary.Outcome

/// Runs a system command (cp, diff, rm, mv, df…) to completion, waited for on a thread of its own (`offPool`).
@discardableResult
func command(_ arguments: [String], in directory: String? = nil) async throws -> Outcome {
    try await SystemCommand.run(arguments, in: directory)
}

/// `command`, blocking the calling thread: only for synchronous callers (deinit, `TestCluster(beforeStart:)`).
@discardableResult
func commandBlocking(_ arguments: [String], in directory: String? = nil) throws -> Outcome {
    try SystemCommand.runBlocking(arguments, in: directory)
}

/// `edfs mount` of the built binary on a folder of the test cluster, as a real process (`MountProcess.started`).
/// `stopped()`, or `stop()` (blocking: for `defer`, and deinit, so also after a failed expectation) ends it: SIGTERM,
/// then `fusermount3 -u -z` and SIGKILL by pid if it stays.
final class MountProcess {
    let process = Process()
    let mountpoint: String
    let logPath: String

    /// Starts `edfs mount` and waits (polling with `Task.sleep`, no thread held) until the mount appears.
    static func started(cluster: TestCluster, mountpoint: String, extra: [String] = []) async throws -> MountProcess {
        let mount = try MountProcess(launching: cluster, mountpoint: mountpoint, extra: extra)
        let deadline = Date().addingTimeInterval(TestTime.scaled(seconds: 60))
        while !mountedPaths().contains(mountpoint) {
            guard mount.process.isRunning, Date() < deadline else {
                await mount.stopped()
                throw MountTestError("the mount did not appear: \(mount.log)")
            }
            try await Task.sleep(for: .milliseconds(50))
        }
        return mount
    }

    private init(launching cluster: TestCluster, mountpoint: String, extra: [String]) throws {
        self.mountpoint = mountpoint
        logPath = cluster.scratch("mount-\(UUID().uuidString.prefix(6)).log")
        try FileManager.default.createDirectory(atPath: mountpoint, withIntermediateDirectories: true)
        let spool = cluster.scratch("spool")
        try FileManager.default.createDirectory(atPath: spool, withIntermediateDirectories: true,
                                                attributes: [.posixPermissions: 0o700])
        FileManager.default.createFile(atPath: logPath, contents: nil)
        process.executableURL = try EDFSBinary.url()
        process.arguments = ["mount", mountpoint, "--config", cluster.clientConfigPath, "--spool", spool] + extra
        var environment = ProcessInfo.processInfo.environment
        environment["EDFS_PASSWORD"] = cluster.passwordText
        process.environment = environment
        let log = try FileHandle(forWritingTo: URL(fileURLWithPath: logPath))
        process.standardOutput = log
        process.standardError = log
        process.standardInput = FileHandle.nullDevice
        try process.run()
    }

    deinit { stop() }

    var log: String { (try? String(contentsOfFile: logPath, encoding: .utf8)) ?? "" }

    var isMounted: Bool { mountedPaths().contains(mountpoint) }

    /// `stop()` for async code: SIGTERM and wait (up to 30 s, times `TestTime.scale`) polling with `Task.sleep`; then
    /// `stop()` cleans up whatever is left. Returns the exit status.
    @discardableResult
    func stopped() async -> Int32? {
        if process.isRunning {
            kill(process.processIdentifier, SIGTERM)
            let deadline = Date().addingTimeInterval(TestTime.scaled(seconds: 30))
            while process.isRunning && Date() < deadline { try? await Task.sleep(for: .milliseconds(50)) }
        }
        return stop()
    }

    /// SIGTERM and wait (up to 30 s, times `TestTime.scale`); whatever is left is cleaned up by force. Returns the exit
    /// status. Blocks the calling thread: async code calls `stopped()`.
    @discardableResult
    func stop() -> Int32? {
        if process.isRunning {
            kill(process.processIdentifier, SIGTERM)
            let deadline = Date().addingTimeInterval(TestTime.scaled(seconds: 30))
            while process.isRunning && Date() < deadline { usleep(50_000) }
        }
        if process.isRunning { kill(process.processIdentifier, SIGKILL) }
        if isMounted { _ = try? commandBlocking(["fusermount3", "-u", "-z", mountpoint]) }
        guard !process.isRunning else { return nil }
        process.waitUntilExit()
        return Self.cancelAbortUnderTSan(process.terminationStatus, log: log) ? 0 : process.terminationStatus
    }

    /// Whether `status` is ThreadSanitizer's abort at unmount and nothing else. libfuse's `fuse_loop_mt` ends by
    /// cancelling its worker threads (pthread_cancel) while they block reading /dev/fuse; TSan then aborts the process
    /// with exit code 66 and "thread T… finished with ignores enabled" (one line per cancelled worker, several may
    /// print before the process dies), created by libfuse3, with no ignore stack: Scripts/sanitizers/tsan-cancel-repro.sh
    /// shows the same abort with no FUSE and no edfs code (a cancelled read), and TSan offers no suppression for it.
    /// Any other TSan report in the log, or any other status, still fails. What the mount does after its loop
    /// (unmount, destroy) is not run in that case; `stop` unmounts by force.
    static func cancelAbortUnderTSan(_ status: Int32, log: String) -> Bool {
        let reports = log.split(separator: "\n").filter { $0.contains("ThreadSanitizer") }
        return status == 66 && !reports.isEmpty && reports.allSatisfy { $0.contains("finished with ignores enabled") }
            && log.contains("libfuse3.so") && !log.contains("Ignore was enabled at")
    }
}

struct MountTestError: Error, CustomStringConvertible {
    let description: String
    init(_ description: String) { self.description = description }
}

/// SplitMix64: the same seed gives the same offsets and content on every run, so a failure repeats.
struct SeededGenerator: RandomNumberGenerator {
    var state: UInt64
    mutating func next() -> UInt64 {
        state &+= 0x9E37_79B9_7F4A_7C15
        var z = state
        z = (z ^ (z >> 30)) &* 0xBF58_476D_1CE4_E5B9
        z = (z ^ (z >> 27)) &* 0x94D0_49BB_1331_11EB
        return z ^ (z >> 31)
    }
}

/// Deterministic content for a seed.
func seededContent(_ count: Int, seed: UInt64) -> [UInt8] {
    var generator = SeededGenerator(state: seed)
    var bytes = [UInt8](repeating: 0, count: count)
    var index = 0
    while index < count {
        let word = generator.next()
        for shift in stride(from: 0, to: 64, by: 8) where index < count {
            bytes[index] = UInt8(truncatingIfNeeded: word >> UInt64(shift))
            index += 1
        }
    }
    return bytes
}
