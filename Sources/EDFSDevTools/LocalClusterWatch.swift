import Dispatch
import Foundation

extension LocalCluster {
    /// Watches the node processes on a thread of its own until `stopWatching()` (or `stop()`): a node that exits is
    /// reported (its name, how it ended, its log) and started again on its port. A node that exits `restartLimit`
    /// times within `window` seconds is reported and left stopped. `report` gets one line per event.
    public func watch(restartLimit: Int = 3, window: Double = 60, report: @escaping @Sendable (String) -> Void) {
        let stopped = DispatchSemaphore(value: 0)
        let alreadyWatching = state.withLock { s -> Bool in
            if s.watching { return true }
            s.watching = true
            s.watcherStopped = stopped
            return false
        }
        guard !alreadyWatching else { return }
        let thread = Thread { [self] in
            var exits: [Int: [Date]] = [:]
            while state.withLock({ $0.watching }) {
                for (index, process) in takeExitedNodes() {
                    let name = nodeNames[index]
                    let now = Date()
                    let recent = (exits[index, default: []] + [now]).filter { now.timeIntervalSince($0) < window }
                    exits[index] = recent
                    let how = Self.howItEnded(process)
                    guard recent.count < restartLimit else {
                        report("node \(name) exited (\(how)), \(recent.count) times within \(Int(window)) s: not "
                            + "restarting it; read its log \(logPath(name)), fix the cause, then stop this cluster "
                            + "(Ctrl-C) and run the same edfs cluster up again")
                        continue
                    }
                    report("node \(name) exited (\(how)); its log: \(logPath(name)); restarting it")
                    do {
                        try startNode(index)
                        report("node \(name) is back on 127.0.0.1:\(port(index)), pid \(processIdentifier(index) ?? 0)")
                    } catch {
                        report("node \(name) did not restart: \(error); read \(logPath(name)), then stop this cluster "
                            + "(Ctrl-C) and run the same edfs cluster up again")
                    }
                }
                usleep(200_000)
            }
            stopped.signal()
        }
        thread.name = "edfs.cluster.watch"
        thread.start()
    }

    /// Stops the watcher and waits until it has (a restart under way finishes first). Nothing when none runs.
    public func stopWatching() {
        guard let stopped = state.withLock({ s -> DispatchSemaphore? in
            defer {
                s.watching = false
                s.watcherStopped = nil
            }
            return s.watching ? s.watcherStopped : nil
        }) else { return }
        stopped.wait()
    }

    /// Node processes that have exited, taken out of the run state (so `stopNode` and `stop` skip them).
    private func takeExitedNodes() -> [(Int, Process)] {
        state.withLock { s in
            var exited: [(Int, Process)] = []
            for index in s.processes.indices {
                if let process = s.processes[index], !process.isRunning {
                    exited.append((index, process))
                    s.processes[index] = nil
                }
            }
            return exited
        }
    }

    /// "exit status N" or "killed by signal N (NAME)".
    static func howItEnded(_ process: Process) -> String {
        let status = process.terminationStatus
        switch process.terminationReason {
        case .exit:
            return "exit status \(status)"
        case .uncaughtSignal:
            let names: [Int32: String] = [SIGKILL: "SIGKILL", SIGTERM: "SIGTERM", SIGINT: "SIGINT", SIGSEGV: "SIGSEGV",
                                          SIGABRT: "SIGABRT", SIGBUS: "SIGBUS", SIGILL: "SIGILL", SIGTRAP: "SIGTRAP"]
            return "killed by signal \(status)" + (names[status].map { " (\($0))" } ?? "")
        @unknown default:
            return "status \(status)"
        }
    }
}
