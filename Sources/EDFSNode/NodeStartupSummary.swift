#if canImport(Glibc)
import Glibc
#elseif canImport(Darwin)
import Darwin
#endif
import EDFSFormat

extension NodeConfiguration {
    /// The names of the users the config defines, sorted (logged at debug level only).
    var userNames: [String] { loginVerifiers.keys.sorted() }

    /// The line a node logs once it listens: its address, data folder, how many users (by verifier kind), limits,
    /// scrub and metrics endpoint. Never a password line, digest or verifier, and no user names (those go to a
    /// debug line). `address` and `metrics` are the bound addresses.
    func startupSummary(address: String, metrics: String?) -> String {
        let verifiers = loginVerifiers.values
        let scram = verifiers.count { if case .scram = $0 { true } else { false } }
        let md5 = verifiers.count - scram
        let limits = self.limits
        var parts = [
            "node \(name) started: address \(address), data \(Self.absolute(dataDirectory))",
            "\(verifiers.count) user\(verifiers.count == 1 ? "" : "s") (\(scram) SCRAM, \(md5) legacy MD5), legacy MD5 logins "
                + (legacyMD5Logins ? "accepted" : "refused"),
            "limits: \(limits.maxConnections) connections (\(limits.maxConnectionsPerUser) per user, "
                + "\(limits.maxConnectionsPerAddress) per address, \(limits.maxUnauthenticatedConnections) not logged in), "
                + "\(limits.maxStreams) requests per connection, frames up to \(ByteCount(limits.maxFrameLength)), "
                + "objects up to \(ByteCount(Int(clamping: limits.maxObjectLength))), "
                + "\(limits.maxGetStreamsPerUser) GETs per user and \(limits.maxGetStreamsPerAddress) per address, "
                + "GET window \(ByteCount(limits.maxGetWindow)), read buffers \(ByteCount(limits.readBufferBudget)), "
                + "login timeout \(Self.seconds(limits.loginTimeout)), idle timeout \(Self.seconds(limits.idleTimeout))",
        ]
        if let scrubInterval {
            parts.append("scrub every \(Self.seconds(scrubInterval)) (orphans kept \(Self.seconds(orphanGracePeriod)))")
        } else {
            parts.append("scrub off")
        }
        parts.append(metrics.map { "metrics on http://\($0)/metrics" } ?? "metrics off")
        if directIO { parts.append("direct I/O for objects of 4 MiB or more") }
        return parts.joined(separator: "; ")
    }

    /// The absolute path of an existing folder (the path as given if it cannot be resolved).
    private static func absolute(_ path: String) -> String {
        guard let resolved = realpath(path, nil) else { return path }
        defer { free(resolved) }
        return String(cString: resolved)
    }

    /// `10 s`, `0.25 s`.
    private static func seconds(_ duration: Duration) -> String {
        let (whole, attoseconds) = duration.components
        guard attoseconds != 0 else { return "\(whole) s" }
        let milliseconds = whole * 1000 + attoseconds / 1_000_000_000_000_000
        return "\(Double(milliseconds) / 1000) s"
    }
}
