import ArgumentParser
import Dispatch
import EDFSClient
import EDFSCrypto
import EDFSDevTools
import Foundation

/// SIGINT and SIGTERM caught from its installation on (their default action, ending the process at once, is off), so
/// a command can finish a step that must not be cut — starting node processes it has to stop again — and then act:
/// `fired` says whether one came, `wait()` returns at the first.
final class InterruptLatch: Sendable {
    private struct State {
        var fired = false
        var waiters: [CheckedContinuation<Void, Never>] = []
    }

    private let state = PthreadMutex(State())

    private init() {}

    /// Catches both signals from now on.
    static func install() -> InterruptLatch {
        let latch = InterruptLatch()
        signal(SIGINT, SIG_IGN)
        signal(SIGTERM, SIG_IGN)
        let queue = DispatchQueue(label: "edfs.interrupt-latch")
        for number in [SIGINT, SIGTERM] {
            let source = DispatchSource.makeSignalSource(signal: number, queue: queue)
            source.setEventHandler { latch.fire() }
            source.resume()
            SignalSources.keep(source)
        }
        return latch
    }

    /// Whether a signal came.
    var fired: Bool { state.withLock { $0.fired } }

    /// Returns once a signal has come (at once if one already did).
    func wait() async {
        await withCheckedContinuation { (continuation: CheckedContinuation<Void, Never>) in
            let now: Bool = state.withLock { s in
                if s.fired { return true }
                s.waiters.append(continuation)
                return false
            }
            if now { continuation.resume() }
        }
    }

    private func fire() {
        let waiters = state.withLock { s -> [CheckedContinuation<Void, Never>] in
            s.fired = true
            defer { s.waiters = [] }
            return s.waiters
        }
        for waiter in waiters { waiter.resume() }
    }
}

/// Keeps signal sources alive for the life of the process.
final class SignalSources: Sendable {
    /// `@unchecked Sendable` is sound: a kept source is only held to keep it alive, never touched again.
    private struct Kept: @unchecked Sendable { let source: any DispatchSourceSignal }
    static let shared = SignalSources()
    private let sources = PthreadMutex<[Kept]>([])
    static func keep(_ source: any DispatchSourceSignal) { shared.sources.withLock { $0.append(Kept(source: source)) } }
}

/// On SIGINT or SIGTERM: stops `progress` (its line cleared), removes the temporary output files a get is writing
/// (so no partial output is ever left), prints `interrupted: <state>` with the state `describe` gives on stderr, and
/// exits 130 (128 + SIGINT), whichever of the two signals came.
/// The terminal's settings are put back as they were when this was called (a password prompt turns echo off).
func exitOnInterrupt(progress: CommandProgress? = nil, _ describe: @escaping @Sendable () -> String) {
    let terminal = TerminalSettings.save()
    let queue = DispatchQueue(label: "edfs.interrupt")
    for number in [SIGINT, SIGTERM] {
        signal(number, SIG_IGN)
        let source = DispatchSource.makeSignalSource(signal: number, queue: queue)
        source.setEventHandler {
            progress?.stop()
            terminal?.restore()
            PartialOutputs.shared.removeAll()
            printError("interrupted: " + describe())
            exit(130)
        }
        source.resume()
        SignalSources.keep(source)
    }
}

/// The controlling terminal's settings at one moment, to put back on the way out.
struct TerminalSettings: Sendable {
    private let saved: termios

    /// The settings now, or nil without a controlling terminal.
    static func save() -> TerminalSettings? {
        let fd = open("/dev/tty", O_RDWR | O_NOCTTY | O_CLOEXEC)
        guard fd >= 0 else { return nil }
        defer { close(fd) }
        var settings = termios()
        guard tcgetattr(fd, &settings) == 0 else { return nil }
        return TerminalSettings(saved: settings)
    }

    /// Puts the settings back when they changed, and only from the foreground (a background process that sets
    /// them is stopped by SIGTTOU).
    func restore() {
        let fd = open("/dev/tty", O_RDWR | O_NOCTTY | O_CLOEXEC)
        guard fd >= 0 else { return }
        defer { close(fd) }
        var now = termios()
        guard tcgetpgrp(fd) == getpgrp(), tcgetattr(fd, &now) == 0, now.c_lflag != saved.c_lflag else { return }
        var settings = saved
        _ = tcsetattr(fd, TCSANOW, &settings)
    }
}
