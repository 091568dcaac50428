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

/// The allocator of large frame payloads (`WireFrameDecoder`'s `payloadAllocator`) and of the node's GET blocks: a
/// request larger than half a block and at most a block (1 MiB: every full DATA frame, every full stored block) takes
/// a block of `pool`; any other size is plain `malloc`.
/// Every allocation carries a 64-byte prefix recording its size, so that freeing knows whether it is a block.
/// A payload's memory goes back to the pool when the last `ByteBuffer` holding it goes away (after a node's `pwrite`
/// of it, or once a GET block's last DATA frame is written): nothing has to give it back explicitly, and it is never reused while held. The blocks hold what arrived
/// on the wire or read from the disk (sealed stripe bytes), no secrets; a reused block is overwritten by the next
/// payload or read before it is used.
/// Memory bound: at most `pool.limit` free blocks per process (8 MiB), beyond the frames in flight.
public enum PayloadBlocks {
    /// Bytes before each allocation's start, holding its usable size (64 keeps the start as aligned as malloc's).
    static let prefix = 64
    /// The payload bytes of a pool block: the largest DATA payload, 1 MiB.
    public static let blockPayload = WireProtocol.maxDataPayload
    /// The process's pool: 8 blocks of 1 MiB (+ the prefix).
    public static let pool = MemoryBlockPool(blockSize: prefix + blockPayload, limit: 8)

    /// The `ByteBufferAllocator` drawing on `pool`.
    public static let allocator = ByteBufferAllocator(
        allocate: { size in PayloadBlocks.allocate(size) },
        reallocate: { pointer, oldSize, newSize in PayloadBlocks.reallocate(pointer, oldSize, newSize) },
        deallocate: { pointer in PayloadBlocks.deallocate(pointer) },
        copy: { destination, source, count in destination.copyMemory(from: source, byteCount: count) })

    /// Whether a request of `size` bytes takes a pool block.
    static func pooled(_ size: Int) -> Bool { size > blockPayload / 2 && size <= blockPayload }

    static func allocate(_ size: Int) -> UnsafeMutableRawPointer? {
        let isBlock = pooled(size)
        guard let raw = isBlock ? pool.take() : malloc(prefix + size) else { return nil }
        // A block's usable size is blockPayload (its allocation is prefix + blockPayload); no other allocation has
        // that usable size, since every request that would is a block.
        raw.storeBytes(of: isBlock ? blockPayload : size, as: Int.self)
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
        if raw.load(as: Int.self) == blockPayload { pool.give(raw) } else { free(raw) }
    }

    static func usableSize(_ pointer: UnsafeMutableRawPointer) -> Int { (pointer - prefix).load(as: Int.self) }
}
