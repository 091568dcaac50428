import EDFSClient
import EDFSNode
import Foundation

/// How much slower than normal this test run is allowed to be: `EDFS_TEST_TIME_SCALE` (a number ≥ 1), which
/// `Scripts/sanitize.sh` sets for its ASan and TSan runs; 1 when unset. Only tests read it: test-side deadlines and
/// the deadlines tests give nodes and connections are multiplied by it, never a production default.
public enum TestTime {
    /// The factor; 1 in a normal run.
    public static let scale: Double = {
        guard let text = ProcessInfo.processInfo.environment["EDFS_TEST_TIME_SCALE"], let value = Double(text),
              value >= 1 else { return 1 }
        return value
    }()

    /// Whether the run is slowed down (a sanitizer build): tests whose point is a timing bound say so and skip it.
    public static var isScaled: Bool { scale > 1 }

    /// `duration` times the factor.
    public static func scaled(_ duration: Duration) -> Duration { duration * scale }

    /// `seconds` times the factor.
    public static func scaled(seconds: Double) -> Double { seconds * scale }

    /// A `LoginTimeout` setting of `seconds` times the factor, as a node config writes it (`"30s"`).
    public static func setting(seconds: Double) -> String { "\(Int((seconds * scale).rounded(.up)))s" }
}

extension NodeConnection.Options {
    /// The default options with their deadlines times `TestTime.scale`.
    public static var forTests: Self { Self().scaledForTests }

    /// These options with their connect and handshake deadlines times `TestTime.scale`; a default HELLO deadline
    /// (10 s) becomes 30 s first, as the nodes' login deadline does (`withTestLoginDeadline`): in the suite's first
    /// burst, tests deriving keys at full PBKDF2 cost hold the 2 cores, and in-process nodes answered HELLO late
    /// (SCRAMLoginTests, in two of eight full runs on a loaded machine). A test that sets its own deadline keeps it.
    public var scaledForTests: Self {
        var options = self
        if options.handshakeTimeout == Self().handshakeTimeout { options.handshakeTimeout = .seconds(30) }
        options.connectTimeout = TestTime.scaled(connectTimeout)
        options.handshakeTimeout = TestTime.scaled(options.handshakeTimeout)
        return options
    }
}

extension NodeLimits {
    /// These limits with room for a whole suite logging in at once on 2 cores: a default login deadline becomes
    /// 30 s times `TestTime.scale`; a test of the deadline that sets its own keeps it.
    public var withTestLoginDeadline: Self {
        var limits = self
        if limits.loginTimeout == NodeLimits().loginTimeout { limits.loginTimeout = TestTime.scaled(.seconds(30)) }
        return limits
    }
}
