import EDFSCrypto
import EDFSFormat
import EDFSTransport
import NIOCore

/// A PUT in progress on a `NodeConnection`: write exactly the announced bytes, then `finish()`.
public final class NodeConnectionUpload: ObjectUpload {
    public let objectID: String
    public let length: UInt64
    let id: UInt32
    let core: NodeConnectionCore
    let reply: EventLoopFuture<WireFrame>
    private let state = PthreadMutex<(sent: UInt64, ended: Bool, failure: (any Error)?)>((0, false, nil))

    init(objectID: String, length: UInt64, id: UInt32, core: NodeConnectionCore, reply: EventLoopFuture<WireFrame>) {
        self.objectID = objectID
        self.length = length
        self.id = id
        self.core = core
        self.reply = reply
        reply.whenFailure { [self] error in state.withLock { $0.failure = error } }
    }

    /// Bytes written so far.
    public var bytesSent: UInt64 { state.withLock { $0.sent } }

    /// Sends the next bytes as DATA frames of at most the node's data payload; suspends while too much is queued.
    /// Throws the node's early refusal (`NodeLinkError`), or `invalidRequest` past the announced length.
    public func write(_ chunk: ByteBuffer) async throws {
        var chunk = chunk
        let count = UInt64(chunk.readableBytes)
        try state.withLock { (s: inout (sent: UInt64, ended: Bool, failure: (any Error)?)) throws in
            if let failure = s.failure { throw failure }
            guard !s.ended else { throw NodeConnectionError.invalidRequest("PUT of \(objectID) already ended") }
            guard s.sent + count <= length else {
                throw NodeConnectionError.invalidRequest("PUT of \(objectID): more than the announced \(length) bytes")
            }
            s.sent += count
        }
        let maxPayload = core.maxDataPayload
        while chunk.readableBytes > 0 {
            guard let piece = chunk.readSlice(length: min(maxPayload, chunk.readableBytes)) else { break }
            try await core.send(WireFrame(type: .data, requestID: id, payload: piece))
        }
    }

    /// Copies `bytes` into buffers and sends them.
    public func write(bytes: some Collection<UInt8>) async throws {
        var remaining = bytes[...]
        let maxPayload = core.maxDataPayload
        repeat {
            let piece = remaining.prefix(maxPayload)
            try await write(ByteBuffer(bytes: piece))
            remaining = remaining.dropFirst(piece.count)
        } while !remaining.isEmpty
    }

    /// Sends END and waits for the node's durable acknowledgement (or its refusal, as `NodeLinkError`).
    public func finish() async throws {
        let sent = try state.withLock { (s: inout (sent: UInt64, ended: Bool, failure: (any Error)?)) throws -> UInt64 in
            if let failure = s.failure { throw failure }
            guard !s.ended else { throw NodeConnectionError.invalidRequest("PUT of \(objectID) already ended") }
            s.ended = true
            return s.sent
        }
        guard sent == length else {
            await cancel()
            throw NodeConnectionError.invalidRequest("PUT of \(objectID): \(sent) of the announced \(length) bytes written")
        }
        try await core.send(WireFrame(type: .end, requestID: id, payload: ByteBuffer()))
        // Cancellable (a deadline in the caller): the route is dropped, the promise failed, the node told.
        let core = self.core
        let id = self.id
        let frame = try await withTaskCancellationHandler {
            try await reply.get()
        } onCancel: {
            if case let .reply(promise)? = core.router.remove(id) {
                promise.fail(CancellationError())
                core.sendControl(.cancel, id: id, payload: [])
            }
        }
        guard case .putObject(let stored)? = try? WireReply.decode(type: frame.type, payload: frame.payloadBytes),
              stored == length else {
            throw NodeConnectionError.protocolViolation(node: core.router.label, reason: "bad PUT_OBJECT_OK")
        }
    }

    /// Abandons the upload; the node discards what it received.
    public func cancel() async {
        let wasOpen = state.withLock { s -> Bool in
            defer { s.ended = true }
            return s.failure == nil
        }
        guard wasOpen else { return }
        if case let .reply(promise)? = core.router.remove(id) {
            promise.fail(CancellationError())
            core.sendControl(.cancel, id: id, payload: [])
        }
    }
}
