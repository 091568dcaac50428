import EDFSCrypto
import EDFSFormat
@_spi(CustomByteBufferAllocator) import NIOCore
#if canImport(Glibc)
import Glibc
#elseif canImport(Musl)
import Musl
#elseif canImport(Darwin)
import Darwin
#endif

/// Memory blocks of a few sizes kept for reuse once freed, at most `byteLimit` bytes of them: the blocks large frame
/// payloads and a node connection's TLS plaintext buffers live in (`PayloadBlocks.allocator`). glibc maps every
/// allocation of 128 KiB or more anew (the node keeps it so for its memory bound,
/// `ConnectionAdmission.limitHeapRetention`) and the first write of each of its pages is a page fault: about 256 per
/// MiB received. A block given back here is handed out again, already backed.
public final class PayloadBlockPool: Sendable {
    /// Bytes of free blocks kept at most.
    public let byteLimit: Int
    private struct State {
        /// Free blocks by size, as addresses.
        var free: [Int: [UInt]] = [:]
        var bytes = 0
    }
    private let state = PthreadMutex(State())

    public init(byteLimit: Int) { self.byteLimit = byteLimit }

    /// A block of `size` bytes: a kept one, or a new one (nil only when the system has no memory).
    public func take(size: Int) -> UnsafeMutableRawPointer? {
        let kept = state.withLock { s -> UInt? in
            guard let block = s.free[size]?.popLast() else { return nil }
            s.bytes -= size
            return block
        }
        if let kept { return UnsafeMutableRawPointer(bitPattern: kept) }
        return malloc(size)
    }

    /// Takes back a block of `size` bytes from `take(size:)`: kept, or freed when `byteLimit` would be passed.
    public func give(_ block: UnsafeMutableRawPointer, size: Int) {
        let isKept = state.withLock { s -> Bool in
            guard s.bytes + size <= byteLimit else { return false }
            s.free[size, default: []].append(UInt(bitPattern: block))
            s.bytes += size
            return true
        }
        if !isKept { free(block) }
    }

    /// Bytes of free blocks kept now (for tests and measurements).
    public var keptBytes: Int { state.withLock { $0.bytes } }
}

/// The allocator of a node connection (its channel's allocator: NIO's socket reads, NIOSSL's plaintext buffers, large
/// frame payloads): a request of more than 512 KiB and at most 4 MiB takes a block of `pool` of the next power of
/// two (ByteBuffer asks for powers of two anyway); any other size is plain `malloc`. Every allocation carries a
/// 64-byte prefix recording its size and whether it is a block, so that freeing knows where it goes.
/// Memory goes back to the pool when the last `ByteBuffer` holding it goes away (after a node's `pwrite` of the DATA
/// bytes in it): nothing has to give it back explicitly, and it is never reused while held. What such buffers hold
/// on a node is what arrived on the wire, decrypted by TLS: sealed stripe bytes and requests (names, ids), no secret a
/// node does not keep anyway; a reused block is overwritten before it is read (ByteBuffer reads only what was
/// written). Memory bound: at most `pool.byteLimit` (16 MiB) of free blocks per process, beyond the buffers in use.
public enum PayloadBlocks {
    /// Bytes before each allocation's start: its usable size, and 1 for a pool block (64 keeps the start as aligned
    /// as malloc's).
    static let prefix = 64
    /// The smallest and largest usable size of a pool block.
    public static let smallestBlock = 1 << 20
    public static let largestBlock = 4 << 20
    /// The process's pool: at most 16 MiB of free blocks.
    public static let pool = PayloadBlockPool(byteLimit: 16 << 20)

    /// The `ByteBufferAllocator` drawing on `pool`.
    public static let allocator = ByteBufferAllocator(
        allocate: { size in PayloadBlocks.allocate(size) },
        reallocate: { pointer, oldSize, newSize in PayloadBlocks.reallocate(pointer, oldSize, newSize) },
        deallocate: { pointer in PayloadBlocks.deallocate(pointer) },
        copy: { destination, source, count in destination.copyMemory(from: source, byteCount: count) })

    /// The usable size of the pool block a request of `size` bytes takes, or nil for plain `malloc`.
    static func blockSize(for size: Int) -> Int? {
        guard size > smallestBlock / 2, size <= largestBlock else { return nil }
        var block = smallestBlock
        while block < size { block <<= 1 }
        return block
    }

    static func allocate(_ size: Int) -> UnsafeMutableRawPointer? {
        let block = blockSize(for: size)
        guard let raw = block.map({ pool.take(size: prefix + $0) }) ?? malloc(prefix + size) else { return nil }
        raw.storeBytes(of: block ?? size, as: Int.self)
        raw.storeBytes(of: block == nil ? 0 : 1, toByteOffset: MemoryLayout<Int>.stride, as: Int.self)
        return raw + prefix
    }

    static func reallocate(_ pointer: UnsafeMutableRawPointer?, _ oldSize: Int, _ newSize: Int) -> UnsafeMutableRawPointer? {
        guard let pointer else { return allocate(newSize) }
        if newSize <= usableSize(pointer) { return pointer }
        guard let moved = allocate(newSize) else { return nil }
        moved.copyMemory(from: pointer, byteCount: min(oldSize, newSize))
        deallocate(pointer)
        return moved
    }

    static func deallocate(_ pointer: UnsafeMutableRawPointer) {
        let raw = pointer - prefix
        if raw.load(fromByteOffset: MemoryLayout<Int>.stride, as: Int.self) == 1 {
            pool.give(raw, size: prefix + raw.load(as: Int.self))
        } else {
            free(raw)
        }
    }

    static func usableSize(_ pointer: UnsafeMutableRawPointer) -> Int { (pointer - prefix).load(as: Int.self) }
}
