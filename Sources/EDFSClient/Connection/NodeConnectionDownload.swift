import EDFSFormat
import EDFSTransport
import NIOCore
import Synchronization

/// A GET in progress on a `NodeConnection`: chunks in order, with bounded buffering (the window).
public final class NodeConnectionDownload: ObjectDownload {
    public let objectLength: UInt64
    public let length: UInt64
    let id: UInt32
    let stream: DownloadStream
    let core: NodeConnectionCore

    init(objectLength: UInt64, length: UInt64, id: UInt32, stream: DownloadStream, core: NodeConnectionCore) {
        self.objectLength = objectLength
        self.length = length
        self.id = id
        self.stream = stream
        self.core = core
    }

    /// The next bytes, or nil after the last. A node's refusal mid-stream (checksum mismatch) throws `NodeLinkError`.
    public func next() async throws -> ByteBuffer? {
        let (chunk, grant) = try await stream.next()
        if grant > 0 { core.sendControl(.window, id: id, payload: WireWindow.encode(increment: UInt32(clamping: grant))) }
        return chunk
    }

    /// The next bytes if they are already here (`.some(nil)` after the last), nil when `next()` would wait.
    public func nextIfReady() throws -> ByteBuffer?? {
        guard let (chunk, grant) = try stream.nextIfReady() else { return nil }
        if grant > 0 { core.sendControl(.window, id: id, payload: WireWindow.encode(increment: UInt32(clamping: grant))) }
        return .some(chunk)
    }

    /// Gives back a consumed chunk to the connection's frame decoder, to receive a later DATA payload into.
    public func recycle(_ chunk: ByteBuffer) { core.recycler.recycle(chunk) }

    /// Bytes received and not yet consumed (never more than the window).
    package var bufferedBytes: Int { stream.bufferedBytes }

    /// Every remaining byte (for small objects and tests).
    public func collect() async throws -> [UInt8] {
        var out: [UInt8] = []
        out.reserveCapacity(Int(min(length, 64 << 20)))
        while let chunk = try await next() { out.append(contentsOf: chunk.readableBytesView) }
        return out
    }

    /// Abandons the download: the node stops sending, buffered bytes are dropped.
    public func cancel() async {
        if stream.cancel() {
            core.router.remove(id)
            core.sendControl(.cancel, id: id, payload: [])
        }
    }
}
