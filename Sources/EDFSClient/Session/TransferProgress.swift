import Dispatch
import EDFSCrypto

/// The progress of one whole command (every file it moves): files and bytes done and in total, the files in
/// flight, the time since it started. Operations report into it from any thread (stripes are sealed and sent in
/// parallel); a display reads `snapshot` on its own schedule.
public final class TransferProgress: Sendable {
    /// The state at one moment.
    public struct Snapshot: Sendable, Equatable {
        /// What is being done ("put", "check", "repair", …); a command with phases changes it.
        public var phase: String
        public var elapsedSeconds: Double
        public var filesDone: Int
        public var totalFiles: Int
        public var bytesDone: UInt64
        /// 0 while unknown (the bar then shows bytes done only).
        public var totalBytes: UInt64
        /// The files in flight, oldest first.
        public var current: [String]

        public init(phase: String, elapsedSeconds: Double, filesDone: Int, totalFiles: Int, bytesDone: UInt64,
                    totalBytes: UInt64, current: [String]) {
            self.phase = phase
            self.elapsedSeconds = elapsedSeconds
            self.filesDone = filesDone
            self.totalFiles = totalFiles
            self.bytesDone = bytesDone
            self.totalBytes = totalBytes
            self.current = current
        }

        /// Bytes a second since the start (0 in the first millisecond).
        public var bytesPerSecond: Double { elapsedSeconds >= 0.001 ? Double(bytesDone) / elapsedSeconds : 0 }

        /// Done, from 0 to 1: by bytes when their total is known, else by files; nil when neither is.
        public var fraction: Double? {
            if totalBytes > 0 { return min(1, Double(bytesDone) / Double(totalBytes)) }
            if totalFiles > 0 { return min(1, Double(filesDone) / Double(totalFiles)) }
            return nil
        }

        /// Seconds left at the average rate so far; nil when it cannot be said.
        public var secondsRemaining: Double? {
            guard let fraction, fraction > 0, fraction < 1, elapsedSeconds >= 0.5 else { return nil }
            return elapsedSeconds * (1 - fraction) / fraction
        }
    }

    private struct State {
        var phase: String
        var totalFiles: Int
        var totalBytes: UInt64
        var filesDone = 0
        var bytesDone: UInt64 = 0
        var current: [String] = []
        var started: UInt64
    }

    private let totalsGiven: Bool
    private let state: PthreadMutex<State>

    /// A model for `phase` with the totals known so far. `totalsGiven` means the byte total is complete, so sizes
    /// learned later (`learnedSize`) are not added again.
    public init(phase: String, totalFiles: Int = 0, totalBytes: UInt64 = 0, totalsGiven: Bool = false) {
        state = PthreadMutex(State(phase: phase, totalFiles: totalFiles, totalBytes: totalBytes,
                                   started: DispatchTime.now().uptimeNanoseconds))
        self.totalsGiven = totalsGiven
    }

    /// Adds to the totals (a command that learns its work in passes).
    public func addTotal(files: Int = 0, bytes: UInt64 = 0) {
        update { $0.totalFiles += files; $0.totalBytes += bytes }
    }

    /// Takes back bytes counted in the total that will not be moved (a replica that is not read after all).
    public func removeFromTotal(bytes: UInt64) {
        update { $0.totalBytes -= min($0.totalBytes, bytes) }
    }

    /// A file's size learned on the way (a get reads it from the manifest): added to the total unless the totals
    /// were given up front.
    public func learnedSize(_ bytes: UInt64) {
        guard !totalsGiven else { return }
        addTotal(bytes: bytes)
    }

    /// `name` starts moving.
    public func begin(_ name: String) { update { $0.current.append(name) } }

    /// `count` more bytes done.
    public func advance(_ count: Int) { update { $0.bytesDone += UInt64(max(0, count)) } }

    /// `name` is done (`counted`: it counts as a file done; false when it failed or was skipped).
    public func end(_ name: String, counted: Bool = true) {
        update { s in
            if let index = s.current.firstIndex(of: name) { s.current.remove(at: index) }
            if counted { s.filesDone += 1 }
        }
    }

    /// Starts a new phase: counts and totals from zero, the clock keeps running.
    public func startPhase(_ phase: String, totalFiles: Int = 0, totalBytes: UInt64 = 0) {
        update { s in s = State(phase: phase, totalFiles: totalFiles, totalBytes: totalBytes, started: s.started) }
    }

    /// Starts the clock again (when the work starts, after a password prompt and the key derivation).
    public func restartClock() { update { $0.started = DispatchTime.now().uptimeNanoseconds } }

    /// The state now.
    public var snapshot: Snapshot {
        state.withLock { Self.snapshot(of: $0, now: DispatchTime.now().uptimeNanoseconds) }
    }

    private func update(_ change: (inout State) -> Void) { state.withLock { change(&$0) } }

    private static func snapshot(of s: State, now: UInt64) -> Snapshot {
        Snapshot(phase: s.phase, elapsedSeconds: Double(now &- s.started) / 1e9, filesDone: s.filesDone,
                 totalFiles: s.totalFiles, bytesDone: s.bytesDone, totalBytes: s.totalBytes, current: s.current)
    }
}
