import Dispatch
import Synchronization

/// Seals or opens batches of segments of one stream across cores with `DispatchQueue.concurrentPerform`.
///
/// One `AESGCMContext` per worker is created once, with the key schedule set up once; workers take segments
/// from a shared atomic counter (so a slow core does not hold the batch back) and write into the caller's
/// output buffer. No memory is allocated per segment. One instance serves one caller at a time.
public final class ParallelSegmentCipher {
    public let scheme: SegmentScheme
    public let direction: AESGCMContext.Direction
    /// Number of worker threads (each with its own EVP context).
    public let workers: Int
    private let contexts: [AESGCMContext]

    /// A cipher for `scheme` under `key` with `workers` threads (default: one per active core).
    public init(key: SymmetricKey, scheme: SegmentScheme, direction: AESGCMContext.Direction,
                workers: Int = ParallelSegmentCipher.defaultWorkers) throws {
        guard workers >= 1, workers <= 256 else { throw CryptoError.invalidParameter("worker count \(workers)") }
        self.scheme = scheme
        self.direction = direction
        self.workers = workers
        contexts = try (0..<workers).map { _ in try AESGCMContext(key: key, direction: direction) }
    }

    /// One worker per active processor.
    public static var defaultWorkers: Int { Swift.max(1, ProcessInfoCores.active) }

    /// Seals (or opens) every segment of `batch`. On an authentication failure when opening, throws
    /// `SegmentCipherError.segmentFailed` naming the first failing segment; the output is then not to be used.
    public func process(_ batch: SegmentBatch) throws {
        let sealing = direction == .seal
        if let input = batch.input.baseAddress, let output = batch.output.baseAddress,
           UnsafeRawPointer(output) < input + batch.input.count, input < UnsafeRawPointer(output) + batch.output.count {
            throw CryptoError.invalidParameter("input and output of a segment batch overlap")
        }
        let count = sealing ? try scheme.sealingSegmentCount(batch) : try scheme.openingSegmentCount(batch)
        let workerCount = Swift.min(workers, count)
        if workerCount == 1 {
            try runSerially(batch, count: count, context: contexts[0], sealing: sealing)
            return
        }
        let shared = SharedBatch(batch: batch, contexts: contexts, scheme: scheme, sealing: sealing, count: count)
        DispatchQueue.concurrentPerform(iterations: workerCount) { worker in
            shared.run(worker: worker)
        }
        if let failure = shared.firstFailure() { throw failure }
    }

    private func runSerially(_ batch: SegmentBatch, count: Int, context: AESGCMContext, sealing: Bool) throws {
        for k in 0..<count {
            do {
                try scheme.processSegment(k, count: count, of: batch, context: context, sealing: sealing)
            } catch {
                throw SegmentCipherError(segmentIndex: batch.firstSegmentIndex + UInt64(k), underlying: error)
            }
        }
    }
}

/// Everything the workers of one `process` call share.
///
/// `@unchecked Sendable` is sound because: the batch's raw pointers are read (input) or written (output) by
/// workers only at the disjoint slots of the segments each worker claims through `next`, which hands every
/// segment index to exactly one worker; `contexts[w]` is used only by the worker with index `w`, and
/// `concurrentPerform` runs each worker index exactly once; the failure record is guarded by a `PthreadMutex`;
/// the caller blocks in `concurrentPerform` until every worker returns, so nothing outlives the call.
private final class SharedBatch: @unchecked Sendable {
    let batch: SegmentBatch
    let contexts: [AESGCMContext]
    let scheme: SegmentScheme
    let sealing: Bool
    let count: Int
    let next = Atomic<Int>(0)
    let failure = PthreadMutex<SegmentCipherError?>(nil)

    init(batch: SegmentBatch, contexts: [AESGCMContext], scheme: SegmentScheme, sealing: Bool, count: Int) {
        self.batch = batch
        self.contexts = contexts
        self.scheme = scheme
        self.sealing = sealing
        self.count = count
    }

    func run(worker: Int) {
        let context = contexts[worker]
        while true {
            let k = next.wrappingAdd(1, ordering: .relaxed).oldValue
            if k >= count { return }
            do {
                try scheme.processSegment(k, count: count, of: batch, context: context, sealing: sealing)
            } catch {
                let segmentError = SegmentCipherError(segmentIndex: batch.firstSegmentIndex + UInt64(k), underlying: error)
                failure.withLock { current in
                    if let existing = current, existing.segmentIndex <= segmentError.segmentIndex { return }
                    current = segmentError
                }
                next.store(count, ordering: .relaxed)  // stop handing out work
                return
            }
        }
    }

    func firstFailure() -> SegmentCipherError? { failure.withLock { $0 } }
}
