import ArgumentParser
import EDFSClient
import EDFSFormat
import Foundation

/// `edfs status`: every node's health and the cluster's state (docs/CLI.md). Exit 0 healthy, 3 degraded or
/// read-only, 69 down.
struct StatusCommand: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "status",
        abstract: "Every node's health, and the cluster's state on the last line.",
        discussion: """
            Logs in to every node (no key is unlocked) and prints one line per node, then "state: healthy", \
            "degraded", "read-only" or "down". Exit 0 healthy, 3 degraded or read-only, 69 down.

            Examples:
              edfs status
              edfs status --json
            """)

    @OptionGroup var options: ClientOptions

    @Flag(help: "Print one JSON object with the nodes and the state.")
    var json = false

    func run() async throws {
        let status = try await reportingFailures { () async throws -> ClusterStatus in
            exitOnInterrupt { "nothing was changed" }
            let config = try options.loadConfig()
            let user = try options.userName(config)
            let password = try options.passwordSource(prompt: "Password for \(user): ")
                .read(environment: ProcessInfo.processInfo.environment)
            let derivation = PasswordDerivation(password: password)
            return try await ClusterStatus.gather(config: config, user: user,
                                                  connector: NodeConnection.connector(config: config, user: user,
                                                                                      derivation: derivation))
        }
        if json {
            let encoder = JSONEncoder()
            encoder.outputFormatting = [.sortedKeys]
            print(String(decoding: try encoder.encode(status), as: UTF8.self))
        } else {
            let width = status.nodes.map(\.name.count).max() ?? 0
            for node in status.nodes { print(Self.line(node, width: width)) }
            print("state: \(status.state.rawValue)")
        }
        if status.state != .healthy { throw ExitCode(status.state.exitCode) }
    }

    /// One node's line: name, address, then its figures or why it is unreachable.
    static func line(_ node: NodeHealth, width: Int) -> String {
        let head = displayed(node.name).padding(toLength: max(width, 1), withPad: " ", startingAt: 0)
            + "  " + displayed(node.address)
        guard node.reachable, let status = node.status else {
            return head + "  unreachable: " + (node.reason ?? "no answer")
        }
        var text = head + "  up  version \(displayed(status.softwareVersion))"
            + "  uptime \(duration(status.uptimeSeconds))"
            + "  free \(ByteCount.humanReadable(Int(clamping: status.freeBytes)))"
            + (node.lowOnSpace ? " (low: puts may fail)" : "")
            + "  objects \(status.objectCount) (\(ByteCount.humanReadable(Int(clamping: status.storedBytes))))"
        if let scrub = status.lastScrub {
            let when = ISO8601DateFormatter().string(from: Date(timeIntervalSince1970: Double(scrub.finishedAt)))
            text += "  scrub \(when): \(scrub.filesChecked) files, \(scrub.corrupt) corrupt, "
                + "\(scrub.orphansReclaimed) orphans reclaimed (\(ByteCount.humanReadable(Int(clamping: scrub.bytesReclaimed))))"
        } else {
            text += "  scrub never"
        }
        return text
    }

    /// `3d4h`, `2h5m`, `4m10s`, `9s`.
    static func duration(_ seconds: UInt64) -> String {
        let (days, hours, minutes, rest) = (seconds / 86_400, seconds / 3600 % 24, seconds / 60 % 60, seconds % 60)
        if days > 0 { return "\(days)d\(hours)h" }
        if hours > 0 { return "\(hours)h\(minutes)m" }
        if minutes > 0 { return "\(minutes)m\(rest)s" }
        return "\(rest)s"
    }
}
