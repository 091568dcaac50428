import Dispatch
import EDFSClient
import EDFSCrypto
import EDFSFormat
import Foundation
#if canImport(Glibc)
import Glibc
#endif

/// What a long command shows while it runs, on stderr only: one line redrawn ten times a second when stderr is a
/// terminal (fitted to its width, cleared at the end), JSON status lines once a second with `--json`, or nothing
/// (`--quiet`, or stderr not a terminal); then one summary line (docs/CLI.md, "Progress and summaries").
final class CommandProgress: Sendable {
    enum Style: Sendable { case terminal, json, none }

    /// The counts the operations report into.
    let model: TransferProgress
    let style: Style
    /// The command, as JSON messages name it ("put", "get", "check", "repair", "rotate").
    let action: String
    private let quiet: Bool
    private let json: Bool
    private let display = PthreadMutex(Display())

    /// The display running now, whose line other output must clear first (`writingAbove`).
    private static let active = LockedValue<CommandProgress?>(nil)

    private struct Display {
        var drawn = false
        var stopped = false
        var timer: KeptTimer?
    }

    /// `@unchecked Sendable` is sound: the timer is created, resumed and cancelled under `display`'s lock only.
    private struct KeptTimer: @unchecked Sendable { let source: any DispatchSourceTimer }

    /// `terminalAllowed` false keeps the line off even on a terminal (a get writing the file to a terminal stdout).
    init(action: String, options: ProgressOptions, json: Bool, totalFiles: Int = 0, totalBytes: UInt64 = 0,
         totalsGiven: Bool = false, terminalAllowed: Bool = true) {
        self.action = action
        quiet = options.quiet
        self.json = json
        model = TransferProgress(phase: action, totalFiles: totalFiles, totalBytes: totalBytes, totalsGiven: totalsGiven)
        if json {
            style = options.quiet ? .none : .json
        } else {
            style = options.quiet || !terminalAllowed || isatty(2) != 1 ? .none : .terminal
        }
    }

    /// Starts the clock and the display; call once the session is open, so nothing is drawn over a password prompt.
    func start() {
        model.restartClock()
        guard style != .none else { return }
        let interval = style == .json ? 1.0 : 0.1
        let timer = DispatchSource.makeTimerSource(queue: DispatchQueue(label: "edfs.progress"))
        timer.schedule(deadline: .now() + (style == .json ? 0 : interval), repeating: interval)
        // A strong capture: `stop()` cancels the timer, which releases this handler and so the cycle. (A weak one
        // allocates a side table that LeakSanitizer reports at exit: the object header points at it in a tagged form
        // it cannot follow.)
        timer.setEventHandler { self.show() }
        display.withLock { d in
            guard !d.stopped else { return }
            d.timer = KeptTimer(source: timer)
            timer.resume()
        }
        Self.active.update { $0 = self }
    }

    /// Stops the display running now, if any (a command failing: its error line must be the last thing shown).
    static func stopActive() { active.value?.stop() }

    /// Runs `write` (a line of output) with the progress line cleared first, so the two never share a line; the
    /// next tick draws it again below.
    static func writingAbove(_ write: () -> Void) {
        guard let current = active.value else { return write() }
        current.display.withLock { d in
            if d.drawn {
                Self.write("\r\u{1B}[K")
                d.drawn = false
            }
            write()
        }
    }

    /// Stops the display for good: the terminal line is cleared; with `--json` a last status line gives the final
    /// counts. Returns them.
    @discardableResult
    func stop() -> TransferProgress.Snapshot {
        let snapshot = model.snapshot
        Self.active.update { if $0 === self { $0 = nil } }
        display.withLock { d in
            guard !d.stopped else { return }
            d.stopped = true
            d.timer?.source.cancel()
            d.timer = nil
            if style == .terminal, d.drawn { Self.write("\r\u{1B}[K") }
            if style == .json { Self.write(Self.jsonLine(StatusMessage(action, snapshot)) + "\n") }
        }
        return snapshot
    }

    /// Stops the display, then prints the summary: `text` of the final counts on stderr (not with `--quiet`), or
    /// with `--json` a summary object (always).
    func finish(_ text: (TransferProgress.Snapshot) -> String) {
        let snapshot = stop()
        if json {
            Self.write(Self.jsonLine(SummaryMessage(action, snapshot)) + "\n")
        } else if !quiet {
            printError(text(snapshot))
        }
    }

    private func show() {
        let snapshot = model.snapshot
        display.withLock { d in
            guard !d.stopped else { return }
            switch style {
            case .terminal:
                Self.write("\r" + ProgressLine.render(snapshot, width: Self.terminalWidth()) + "\u{1B}[K")
                d.drawn = true
            case .json:
                Self.write(Self.jsonLine(StatusMessage(action, snapshot)) + "\n")
            case .none:
                break
            }
        }
    }

    /// The width of the terminal on stderr (TIOCGWINSZ), else `$COLUMNS`, else 80.
    static func terminalWidth() -> Int {
        var size = winsize()
        if ioctl(2, UInt(TIOCGWINSZ), &size) == 0, size.ws_col > 0 { return Int(size.ws_col) }
        if let columns = ProcessInfo.processInfo.environment["COLUMNS"].flatMap(Int.init), columns > 0 { return columns }
        return 80
    }

    /// "4.1 s" under a minute, else "m:ss" or "h:mm:ss".
    static func duration(_ seconds: Double) -> String {
        seconds < 60 ? String(format: "%.1f s", seconds) : ProgressLine.duration(seconds)
    }

    /// "N file(s), SIZE in T (RATE/s)": the common part of the summaries.
    static func counts(_ s: TransferProgress.Snapshot, bytes: Bool = true) -> String {
        var text = "\(s.filesDone) file\(s.filesDone == 1 ? "" : "s")"
        if bytes {
            text += ", " + ByteCount.humanReadable(Int(clamping: s.bytesDone)) + " in " + duration(s.elapsedSeconds)
                + " (" + ByteCount.humanReadable(Int(s.bytesPerSecond)) + "/s)"
        } else {
            text += " in " + duration(s.elapsedSeconds)
        }
        return text
    }

    /// `value` as one line of compact JSON, keys sorted and in snake case.
    static func jsonLine(_ value: some Encodable) -> String {
        let encoder = JSONEncoder()
        encoder.outputFormatting = [.sortedKeys, .withoutEscapingSlashes]
        encoder.keyEncodingStrategy = .convertToSnakeCase
        guard let data = try? encoder.encode(value) else { return "{}" }
        return String(decoding: data, as: UTF8.self)
    }

    private static func write(_ text: String) {
        let bytes = Array(text.utf8)
        bytes.withUnsafeBytes { _ = Glibc.write(2, $0.baseAddress, $0.count) }
    }
}
