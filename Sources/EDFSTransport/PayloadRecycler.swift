import EDFSCrypto
import NIOCore

/// The buffers of large frames handed back by their consumer once it is done with them (a node after the frame's
/// `pwrite`), for the frame decoder to write the next large payload into instead of a fresh buffer: glibc maps every
/// buffer of 128 KiB or more anew (the node keeps it so for its memory bound), about 256 page faults per MiB.
/// It holds at most `limit` buffers, and only while large frames keep coming: the decoder empties it at the first
/// small frame and what comes back after that is dropped, so a connection between streams holds none.
public final class PayloadRecycler: Sendable {
    /// Payloads from this size on are assembled in recycled buffers.
    public static let minimumPayload = 64 << 10

    private struct State {
        var free: [ByteBuffer] = []
        var streaming = false
    }

    private let state = PthreadMutex(State())
    private let limit: Int

    /// A recycler that holds at most `limit` buffers.
    public init(limit: Int = 2) { self.limit = limit }

    /// Gives back the buffer of a large frame whose bytes are consumed. Sound while other copies of it live: a buffer
    /// still shared is copied when it is reused (ByteBuffer's copy-on-write), never written under its other holder.
    public func recycle(_ buffer: ByteBuffer) {
        guard buffer.capacity >= Self.minimumPayload else { return }
        state.withLock { s in
            guard s.streaming, s.free.count < limit else { return }
            s.free.append(buffer)
        }
    }

    /// Buffers held now (for tests).
    public var heldCount: Int { state.withLock { $0.free.count } }

    /// An empty buffer of at least `capacity` bytes that was given back, or nil; starts a stream of large frames.
    func take(capacity: Int) -> ByteBuffer? {
        var taken = state.withLock { s -> ByteBuffer? in
            s.streaming = true
            guard let index = s.free.firstIndex(where: { $0.capacity >= capacity }) else { return nil }
            return s.free.remove(at: index)
        }
        taken?.clear()  // the same memory when no one else holds it any more
        return taken
    }

    /// The stream of large frames ended: drops what is held and keeps nothing until the next one.
    func endStream() {
        state.withLock { s in
            s.free.removeAll()
            s.streaming = false
        }
    }
}
