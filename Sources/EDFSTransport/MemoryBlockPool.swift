import EDFSCrypto
#if canImport(Glibc)
import Glibc
#elseif canImport(Musl)
import Musl
#elseif canImport(Darwin)
import Darwin
#endif

/// Memory blocks of one size and alignment, reused: a block given back is kept for the next `take` (at most `limit`
/// of them; beyond, it is freed), and, with `maxOut`, at most that many are handed out at once (`take` returns nil
/// beyond). glibc maps every allocation of 128 KiB or more anew (a node keeps it so for its memory bound,
/// `ConnectionAdmission.limitHeapRetention`), and the first write of each page of a fresh mapping is a page fault:
/// about 256 per MiB. A kept block is handed out again already backed. Used for the node's frame payloads and GET
/// blocks (`PayloadBlocks`) and for its direct I/O's page-aligned buffers (`DirectIO`). Blocks come from `malloc`
/// (or `posix_memalign` for an alignment above malloc's), so `free` releases any of them.
public final class MemoryBlockPool: Sendable {
    /// The size of every block.
    public let blockSize: Int
    /// The alignment of every block's start.
    public let alignment: Int
    /// Blocks kept at most.
    public let limit: Int
    /// Blocks handed out at most at once; nil: no bound.
    public let maxOut: Int?
    /// Free blocks, as addresses (a raw pointer is not Sendable), and how many are out.
    private let state: PthreadMutex<(kept: [UInt], out: Int)>

    public init(blockSize: Int, alignment: Int = 16, limit: Int, maxOut: Int? = nil) {
        self.blockSize = blockSize
        self.alignment = alignment
        self.limit = limit
        self.maxOut = maxOut
        var kept = [UInt]()
        kept.reserveCapacity(limit)
        state = PthreadMutex((kept, 0))
    }

    deinit {
        state.withLock { state in
            for address in state.kept { free(UnsafeMutableRawPointer(bitPattern: address)) }
            state.kept = []
        }
    }

    /// A block of `blockSize` bytes: a kept one, or a new one; nil when `maxOut` are out or the system has no memory.
    public func take() -> UnsafeMutableRawPointer? {
        let reused: UInt? = state.withLock { state in
            if let maxOut, state.out >= maxOut { return nil }
            state.out += 1
            return state.kept.popLast() ?? 0
        }
        guard let reused else { return nil }
        if let block = UnsafeMutableRawPointer(bitPattern: reused) { return block }
        if let block = allocate() { return block }
        state.withLock { $0.out -= 1 }
        return nil
    }

    /// `take()` as a buffer of `blockSize` bytes.
    public func takeBuffer() -> UnsafeMutableRawBufferPointer? {
        take().map { UnsafeMutableRawBufferPointer(start: $0, count: blockSize) }
    }

    /// Takes back a block from `take()`: kept for the next `take()`, or freed when `limit` are kept.
    public func give(_ block: UnsafeMutableRawPointer) {
        let isKept = state.withLock { state -> Bool in
            state.out -= 1
            guard state.kept.count < limit else { return false }
            state.kept.append(UInt(bitPattern: block))
            return true
        }
        if !isKept { free(block) }
    }

    /// Takes back a buffer from `takeBuffer()`.
    public func give(_ buffer: UnsafeMutableRawBufferPointer) {
        if let block = buffer.baseAddress { give(block) }
    }

    /// Blocks kept now (for tests and measurements).
    public var keptCount: Int { state.withLock { $0.kept.count } }
    /// Blocks handed out now (for tests).
    public var outCount: Int { state.withLock { $0.out } }

    private func allocate() -> UnsafeMutableRawPointer? {
        guard alignment > MemoryLayout<max_align_t>.alignment else { return malloc(blockSize) }
        var block: UnsafeMutableRawPointer?
        return posix_memalign(&block, alignment, blockSize) == 0 ? block : nil
    }
}
