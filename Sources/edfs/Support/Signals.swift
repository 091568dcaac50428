import ArgumentParser
import Dispatch
import EDFSClient
import EDFSCrypto
import EDFSDevTools
import Foundation

/// Suspends until SIGINT or SIGTERM.
func waitForInterrupt() async {
    signal(SIGINT, SIG_IGN)
    signal(SIGTERM, SIG_IGN)
    await withCheckedContinuation { (continuation: CheckedContinuation<Void, Never>) in
        let queue = DispatchQueue(label: "edfs.signals")
        let resumed = ResumeOnce(continuation)
        for number in [SIGINT, SIGTERM] {
            let source = DispatchSource.makeSignalSource(signal: number, queue: queue)
            source.setEventHandler { resumed.resume() }
            source.resume()
            SignalSources.keep(source)
        }
    }
}

/// Resumes a continuation at most once. `@unchecked Sendable`: its only state is read and written on one serial queue.
final class ResumeOnce: @unchecked Sendable {
    private var continuation: CheckedContinuation<Void, Never>?
    init(_ continuation: CheckedContinuation<Void, Never>) { self.continuation = continuation }
    func resume() {
        continuation?.resume()
        continuation = nil
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

/// On SIGINT or SIGTERM, removes the temporary output files being written and exits 130 (128 + SIGINT).
func removePartialOutputsOnInterrupt() {
    let queue = DispatchQueue(label: "edfs.interrupt")
    for number in [SIGINT, SIGTERM] {
        signal(number, SIG_IGN)
        let source = DispatchSource.makeSignalSource(signal: number, queue: queue)
        source.setEventHandler {
            PartialOutputs.shared.removeAll()
            printError("interrupted; no partial output was left")
            exit(130)
        }
        source.resume()
        SignalSources.keep(source)
    }
}
