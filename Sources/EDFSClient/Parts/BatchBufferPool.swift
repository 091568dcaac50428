import EDFSCrypto

/// A stripe opener's two batch buffers: the sealed bytes of a batch and its plaintext.
///
/// `@unchecked Sendable` is sound: a `BatchBuffers` has one owner at a time — the pool's cache (under its lock) or
/// the one `StripeOpenWork` that took it, which gives it back from its `deinit`, after its last use.
final class BatchBuffers: @unchecked Sendable {
    let sealed: UnsafeMutableRawBufferPointer
    let plaintext: UnsafeMutableRawBufferPointer
    /// Plaintext bytes at the start of `plaintext` that may hold something other than zeros.
    var dirty = 0

    init(sealed: Int, plaintext: Int) {
        self.sealed = .allocate(byteCount: max(1, sealed), alignment: 64)
        self.plaintext = .allocate(byteCount: max(1, plaintext), alignment: 64)
        self.plaintext.initializeMemory(as: UInt8.self, repeating: 0)  // all zeros whenever no stripe holds it
    }

    func fits(sealed: Int, plaintext: Int) -> Bool { self.sealed.count >= sealed && self.plaintext.count >= plaintext }

    /// Zeroes the plaintext written since the last scrub (the sealed bytes are ciphertext: nothing to hide).
    func scrub() {
        secureWipe(UnsafeMutableRawBufferPointer(rebasing: plaintext[0..<dirty]))  // not elided before a free
        dirty = 0
    }

    deinit {
        scrub()
        sealed.deallocate()
        plaintext.deallocate()
    }
}

/// The batch buffers of one command, shared by every stripe of every file it reads (docs/PERFORMANCE.md, finding 3):
/// a stripe takes a pair sized to what it needs — a whole batch, or the stripe when it is smaller — and gives it back
/// when it ends; the pool keeps up to `limit` pairs for the next stripes instead of allocating (and faulting in) new
/// ones. The plaintext is zeroed once when a pair comes back, not after every batch: before any other stripe or file
/// can see it, and before it is freed.
public final class BatchBufferPool: Sendable {
    private let cached = PthreadMutex<[BatchBuffers]>([])
    private let limit: Int

    /// A pool that keeps at most `limit` pairs between stripes.
    public init(limit: Int? = nil) { self.limit = limit ?? TransferTuning.concurrentStripes }

    /// A pair with room for `sealed` and `plaintext` bytes: a kept one when one is large enough, else a new one.
    func take(sealed: Int, plaintext: Int) -> BatchBuffers {
        let kept = cached.withLock { pairs -> BatchBuffers? in
            // The smallest that fits, so that small stripes leave the large pairs to the large ones.
            guard let index = pairs.indices.filter({ pairs[$0].fits(sealed: sealed, plaintext: plaintext) })
                .min(by: { pairs[$0].sealed.count < pairs[$1].sealed.count }) else { return nil }
            return pairs.remove(at: index)
        }
        return kept ?? BatchBuffers(sealed: sealed, plaintext: plaintext)
    }

    /// Takes back a pair whose stripe ended: zeroes its plaintext and keeps it, or frees it when the pool is full
    /// (the smallest pair goes first).
    func give(_ buffers: BatchBuffers) {
        buffers.scrub()
        let dropped = cached.withLock { pairs -> BatchBuffers? in
            pairs.append(buffers)
            guard pairs.count > limit,
                  let smallest = pairs.indices.min(by: { pairs[$0].sealed.count < pairs[$1].sealed.count }) else { return nil }
            return pairs.remove(at: smallest)
        }
        _ = dropped  // freed here, outside the lock
    }

    /// Pairs kept now (for tests).
    package var keptCount: Int { cached.withLock { $0.count } }

    /// Whether every kept pair's plaintext buffer holds only zeros (for tests).
    package var keptPlaintextIsZero: Bool {
        cached.withLock { pairs in pairs.allSatisfy { pair in pair.plaintext.allSatisfy { $0 == 0 } } }
    }
}
