import EDFSCrypto

/// Warnings collected for stderr, in order; safe to add from any task. A line equal to one already added is
/// counted but not echoed again: a command over many files meeting one failing node says so once, not per file.
public final class Notices: Sendable {
    private struct State {
        var lines: [String] = []
        var seen: Set<String> = []
        var repeats = 0
    }

    private let state = PthreadMutex(State())
    private let echo: (@Sendable (String) -> Void)?

    /// `echo`, if given, also receives each new line as it is added (the CLI prints them at once).
    public init(echo: (@Sendable (String) -> Void)? = nil) { self.echo = echo }

    public func add(_ line: String) {
        let new = state.withLock { s -> Bool in
            s.lines.append(line)
            guard s.seen.insert(line).inserted else {
                s.repeats += 1
                return false
            }
            return true
        }
        if new { echo?(line) }
    }

    /// Every line added, repeats included, in order.
    public var all: [String] { state.withLock { $0.lines } }

    /// How many added lines repeated an earlier one (and were not echoed).
    public var repeats: Int { state.withLock { $0.repeats } }
}
