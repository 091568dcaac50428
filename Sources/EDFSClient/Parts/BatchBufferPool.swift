import EDFSCrypto
import Glibc

/// A stripe opener's batch buffer: the plaintext of a batch, opened into it straight from the received frames (the
/// sealed bytes are not gathered first: docs/PERFORMANCE.md, "Opening segments where they arrive").
///
/// `@unchecked Sendable` is sound: a `BatchBuffers` has one owner at a time — the pool's cache (under its lock) or
/// the one `StripeOpenWork` that took it, which gives it back from its `deinit`, after its last use.
final class BatchBuffers: @unchecked Sendable {
    let plaintext: UnsafeMutableRawBufferPointer
    /// Whether `plaintext` was mapped (else allocated).
    private let mapped: Bool
    /// Plaintext bytes at the start of `plaintext` that may hold something other than zeros.
    var dirty = 0

    init(plaintext: Int) {
        // Page-aligned (so that the output can be written with O_DIRECT from it, `OutputSink`) and all zeros whenever
        // no stripe holds it: a large one is mapped (fresh zero pages, no pass over it), a small one allocated and
        // zeroed.
        let count = max(1, plaintext)
        if count >= Self.mappedFrom,
           let memory = mmap(nil, count, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0), memory != MAP_FAILED {
            self.plaintext = UnsafeMutableRawBufferPointer(start: memory, count: count)
            mapped = true
        } else {
            self.plaintext = .allocate(byteCount: count, alignment: 64)
            self.plaintext.initializeMemory(as: UInt8.self, repeating: 0)
            mapped = false
        }
    }

    /// Buffers from this size on are mapped.
    static let mappedFrom = 64 << 10

    func fits(plaintext: Int) -> Bool { self.plaintext.count >= plaintext }

    /// Zeroes the plaintext written since the last scrub.
    func scrub() {
        secureWipe(UnsafeMutableRawBufferPointer(rebasing: plaintext[0..<dirty]))  // not elided before a free
        dirty = 0
    }

    deinit {
        scrub()
        if mapped, let base = plaintext.baseAddress { _ = munmap(base, plaintext.count) } else { plaintext.deallocate() }
    }
}

/// The batch buffers of one command, shared by every stripe of every file it reads (docs/PERFORMANCE.md, finding 3):
/// a stripe takes a buffer sized to what it needs — a whole batch, or the stripe when it is smaller — and gives it back
/// when it ends; the pool keeps up to `limit` of them for the next stripes instead of allocating (and faulting in) new
/// ones. The plaintext is zeroed once when a buffer comes back, not after every batch: before any other stripe or file
/// can see it, and before it is freed.
public final class BatchBufferPool: Sendable {
    private let cached = PthreadMutex<[BatchBuffers]>([])
    private let limit: Int

    /// A pool that keeps at most `limit` buffers between stripes.
    public init(limit: Int? = nil) { self.limit = limit ?? TransferTuning.concurrentStripes }

    /// A buffer with room for `plaintext` bytes: a kept one when one is large enough, else a new one.
    func take(plaintext: Int) -> BatchBuffers {
        let reused = cached.withLock { kept -> BatchBuffers? in
            // The smallest that fits, so that small stripes leave the large buffers to the large ones.
            guard let index = kept.indices.filter({ kept[$0].fits(plaintext: plaintext) })
                .min(by: { kept[$0].plaintext.count < kept[$1].plaintext.count }) else { return nil }
            return kept.remove(at: index)
        }
        return reused ?? BatchBuffers(plaintext: plaintext)
    }

    /// Takes back a buffer whose stripe ended: zeroes its plaintext and keeps it, or frees it when the pool is full
    /// (the smallest buffer goes first).
    func give(_ buffers: BatchBuffers) {
        buffers.scrub()
        let dropped = cached.withLock { kept -> BatchBuffers? in
            kept.append(buffers)
            guard kept.count > limit,
                  let smallest = kept.indices.min(by: { kept[$0].plaintext.count < kept[$1].plaintext.count }) else { return nil }
            return kept.remove(at: smallest)
        }
        _ = dropped  // freed here, outside the lock
    }

    /// Buffers kept now (for tests).
    package var keptCount: Int { cached.withLock { $0.count } }

    /// Whether every kept buffer holds only zeros (for tests).
    package var keptPlaintextIsZero: Bool {
        cached.withLock { kept in kept.allSatisfy { buffer in buffer.plaintext.allSatisfy { $0 == 0 } } }
    }
}
