import EDFSCrypto

/// Warnings collected for stderr, in order; safe to add from any task.
public final class Notices: Sendable {
    private let lines = PthreadMutex<[String]>([])
    private let echo: (@Sendable (String) -> Void)?

    /// `echo`, if given, also receives each line as it is added (the CLI prints them at once).
    public init(echo: (@Sendable (String) -> Void)? = nil) { self.echo = echo }

    public func add(_ line: String) {
        lines.withLock { $0.append(line) }
        echo?(line)
    }

    public var all: [String] { lines.withLock { $0 } }
}
