import EDFSCrypto
import Dispatch
import EDFSFormat
#if canImport(Glibc)
import Glibc
#endif

/// A progress bar on stderr (bytes, rate, time left) for a terminal; silent otherwise or when disabled.
/// Safe to update from any thread; redraws at most ten times a second.
public final class TransferProgress: Sendable {
    private struct State {
        var total: UInt64
        var done: UInt64 = 0
        var lastDraw: UInt64 = 0
        var drawn = false
    }

    public let label: String
    public let isEnabled: Bool
    private let started = DispatchTime.now().uptimeNanoseconds
    private let state: PthreadMutex<State>

    /// A bar for `total` bytes; `enabled` nil means "only when stderr is a terminal".
    public init(label: String, total: UInt64, enabled: Bool? = nil) {
        self.label = label
        state = PthreadMutex(State(total: total))
        isEnabled = enabled ?? (isatty(2) == 1)
    }

    /// Records `count` more bytes done.
    public func advance(_ count: Int) {
        guard isEnabled else { return }
        let now = DispatchTime.now().uptimeNanoseconds
        let line: String? = state.withLock { s in
            s.done += UInt64(count)
            guard now - s.lastDraw >= 100_000_000 || s.done >= s.total else { return nil }
            s.lastDraw = now
            s.drawn = true
            return render(done: s.done, total: s.total, now: now)
        }
        if let line { Self.write("\r\u{1B}[K" + line) }
    }

    /// Clears the bar (call once when the transfer ends, either way).
    public func finish() {
        guard isEnabled else { return }
        let drawn = state.withLock { $0.drawn }
        if drawn { Self.write("\r\u{1B}[K") }
    }

    /// Sets the total once it is known (a get learns it from the manifest).
    public func setTotal(_ total: UInt64) { state.withLock { $0.total = total } }

    private func render(done: UInt64, total: UInt64, now: UInt64) -> String {
        let seconds = max(Double(now - started) / 1e9, 0.001)
        let rate = Double(done) / seconds
        let fraction = total == 0 ? 1 : min(1, Double(done) / Double(total))
        let width = 24
        let filled = Int(fraction * Double(width))
        let bar = String(repeating: "#", count: filled) + String(repeating: "-", count: width - filled)
        var text = "\(label) [\(bar)] \(ByteCount.humanReadable(Int(clamping: done)))/\(ByteCount.humanReadable(Int(clamping: total)))"
        text += "  \(ByteCount.humanReadable(Int(rate)))/s"
        if rate > 0 && done < total {
            let left = Int(Double(total - done) / rate)
            text += "  \(left / 60):" + (left % 60 < 10 ? "0" : "") + "\(left % 60) left"
        }
        return text
    }

    private static func write(_ text: String) {
        let bytes = Array(text.utf8)
        bytes.withUnsafeBytes { _ = Glibc.write(2, $0.baseAddress, $0.count) }
    }
}
