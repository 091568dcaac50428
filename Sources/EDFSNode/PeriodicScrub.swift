import EDFSCrypto
import Logging
import NIOPosix
import Synchronization

/// A running node's scrub every `ScrubInterval` (docs/STORAGE.md): check, quarantine and garbage collection on a
/// thread of its own, so a long scrub never takes one of the threads requests are served on. The first run comes one
/// interval after the node starts serving; each result goes into the node's `ScrubRecord` for STATUS. Requests go on
/// meanwhile: the scrubber shares the node's per-user locks (`Scrubber.init(metadata:)`). `stop()` interrupts a scrub
/// in progress between two files.
final class PeriodicScrub: Sendable {
    private let scrubber: Scrubber
    private let options: ScrubOptions
    private let interval: Duration
    private let record: ScrubRecord
    private let logger: Logger
    private let metrics: NodeMetrics
    private let thread = NIOThreadPool(numberOfThreads: 1)
    private let stopping = Atomic<Bool>(false)
    /// The loop, once started; `started` stays true after `stop()` so that it never starts again.
    private let loop = PthreadMutex<(started: Bool, task: Task<Void, Never>?)>((false, nil))

    init(scrubber: Scrubber, options: ScrubOptions, interval: Duration, record: ScrubRecord, metrics: NodeMetrics,
         logger: Logger) {
        self.metrics = metrics
        self.scrubber = scrubber
        self.options = options
        self.interval = interval
        self.record = record
        self.logger = logger
    }

    /// Starts the loop unless it was started (or stopped) before.
    func startIfNeeded() {
        loop.withLock { state in
            guard !state.started else { return }
            state.started = true
            thread.start()
            state.task = Task { [self] in await run() }
        }
    }

    private func run() async {
        while !Task.isCancelled {
            do {
                try await Task.sleep(for: interval)
            } catch {
                return  // cancelled: the node is stopping
            }
            do {
                let report = try await thread.runIfActive { [self] in
                    try scrubber.scrub(options, shouldStop: { self.stopping.load(ordering: .relaxed) })
                }
                record.record(report)
                metrics.scrubFinished(report)
                log(report)
            } catch {
                metrics.scrubFailed()
                logger.error("scrub failed: \(error)")
            }
        }
    }

    private func log(_ report: ScrubReport) {
        let line = "scrub: \(report.filesChecked) files, \(report.corrupt.count) corrupt, \(report.quarantined.count) "
            + "quarantined, \(report.orphansReclaimed.count) orphans and \(report.temporariesReclaimed) temporary files "
            + "reclaimed (\(report.bytesReclaimed) bytes)" + (report.interrupted ? "; interrupted" : "")
        if report.isClean { logger.info("\(line)") } else { logger.warning("\(line); corrupt: \(report.corrupt)") }
        for skipped in report.collectionSkipped { logger.warning("scrub: garbage collection skipped for \(skipped)") }
    }

    /// Stops the loop (interrupting a scrub in progress) and waits for it.
    func stop() async {
        stopping.store(true, ordering: .relaxed)
        let (started, task) = loop.withLock { state in
            defer { state = (true, nil) }
            return (state.started, state.task)
        }
        task?.cancel()
        await task?.value
        if started { try? await thread.shutdownGracefully() }
    }
}
