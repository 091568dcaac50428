import EDFSCrypto
import EDFSFormat

/// One verified, opened segment of a stored file: its plaintext, wiped when the last reference goes.
///
/// `@unchecked Sendable` is sound: the buffer is written only in `init` and read-only afterwards; `deinit` runs
/// when no reference is left, so no reader can see it being wiped.
public final class OpenedSegment: @unchecked Sendable {
    private let buffer: UnsafeMutableRawBufferPointer

    /// Copies `plaintext` into a private buffer.
    init(copying plaintext: UnsafeRawBufferPointer) {
        buffer = .allocate(byteCount: max(1, plaintext.count), alignment: 16)
        count = plaintext.count
        if let base = plaintext.baseAddress, plaintext.count > 0 {
            buffer.baseAddress?.copyMemory(from: base, byteCount: plaintext.count)
        }
    }

    deinit {
        buffer.initializeMemory(as: UInt8.self, repeating: 0)
        buffer.deallocate()
    }

    /// Plaintext bytes in the segment.
    public let count: Int

    /// Calls `body` with the plaintext.
    public func withBytes<T>(_ body: (UnsafeRawBufferPointer) throws -> T) rethrows -> T {
        try body(UnsafeRawBufferPointer(rebasing: buffer[0..<count]))
    }
}

/// Opened segments shared by the random-access reads of one process (a mount), bounded by a segment count and a
/// byte count; the least recently used goes first. Plaintext stays in memory only (wiped on eviction once unused).
public final class SegmentCache: Sendable {
    /// A segment of one file version's stripe.
    public struct Key: Hashable, Sendable {
        public var fileID: FileID
        public var stripe: Int
        public var segment: UInt64
    }

    private struct State {
        var entries: [Key: (segment: OpenedSegment, used: UInt64)] = [:]
        var bytes = 0
        var clock: UInt64 = 0
    }

    public let capacitySegments: Int
    public let capacityBytes: Int
    private let state = PthreadMutex(State())

    /// At most `capacitySegments` segments and `capacityBytes` bytes of plaintext (default 64 segments, 64 MiB).
    public init(capacitySegments: Int = 64, capacityBytes: Int = 64 << 20) {
        self.capacitySegments = max(1, capacitySegments)
        self.capacityBytes = max(1, capacityBytes)
    }

    /// The cached segment, marked as just used.
    func segment(_ key: Key) -> OpenedSegment? {
        state.withLock { state in
            guard let entry = state.entries[key] else { return nil }
            state.clock += 1
            state.entries[key] = (entry.segment, state.clock)
            return entry.segment
        }
    }

    func contains(_ key: Key) -> Bool { state.withLock { $0.entries[key] != nil } }

    /// Adds a segment, evicting the least recently used ones beyond the bounds.
    func insert(_ key: Key, _ segment: OpenedSegment) {
        state.withLock { state in
            state.clock += 1
            if let old = state.entries[key] { state.bytes -= old.segment.count }
            state.entries[key] = (segment, state.clock)
            state.bytes += segment.count
            while state.entries.count > capacitySegments || (state.bytes > capacityBytes && state.entries.count > 1) {
                guard let oldest = state.entries.min(by: { $0.value.used < $1.value.used }) else { break }
                state.entries[oldest.key] = nil
                state.bytes -= oldest.value.segment.count
            }
        }
    }

    /// Segments held now.
    public var count: Int { state.withLock { $0.entries.count } }
    /// Plaintext bytes held now.
    public var bytes: Int { state.withLock { $0.bytes } }
}
