import EDFSCrypto
import EDFSFormat
import EDFSTransport
import NIOCore
import NIOPosix
import NIOSSL

/// The I/O half of a connection: the channel, the router, and bounded writing.
final class NodeConnectionCore: Sendable {
    let channel: any Channel
    let router: NodeConnectionRouter
    /// Where consumed DATA payloads go back to this connection's frame decoder.
    let recycler: PayloadRecycler
    private let limits = PthreadMutex<WireNodeLimits?>(nil)

    init(channel: any Channel, router: NodeConnectionRouter, recycler: PayloadRecycler) {
        self.channel = channel
        self.router = router
        self.recycler = recycler
    }

    func setLimits(_ value: WireNodeLimits) { limits.withLock { $0 = value } }

    /// Largest DATA payload to send: the node's announced limit (1 MiB by default).
    var maxDataPayload: Int {
        limits.withLock { Int(max(1, $0?.maxDataPayload ?? UInt32(WireProtocol.maxDataPayload))) }
    }

    private func budgetCost(_ frame: WireFrame) -> Int {
        min(WireProtocol.headerLength + frame.payload.readableBytes, NodeConnection.Options.maxWriteBudget)
    }

    private func takeBudget(_ cost: Int) async throws {
        do {
            _ = try await router.writeBudget.take(minimum: cost, maximum: cost)
        } catch is AsyncAllowance.Closed {
            throw router.failure ?? .closed(node: router.label, reason: "closed")
        }
    }

    /// Queues a stream frame (DATA, END) once the bytes queued before it are few enough.
    func send(_ frame: WireFrame) async throws {
        if let failure = router.failure { throw failure }
        let cost = budgetCost(frame)
        try await takeBudget(cost)
        let budget = router.writeBudget
        let promise = channel.eventLoop.makePromise(of: Void.self)
        promise.futureResult.whenComplete { _ in budget.add(cost) }
        channel.writeAndFlush(frame, promise: promise)
    }

    /// Queues a small control frame (WINDOW, CANCEL) at once.
    func sendControl(_ type: WireFrameType, id: UInt32, payload: [UInt8]) {
        channel.writeAndFlush(WireFrame(type: type, requestID: id, payload: ByteBuffer(bytes: payload)), promise: nil)
    }

    /// Starts a request: allocates its id and queues its frame on the event loop, so ids reach the wire in order.
    func start(_ request: WireRequest, route: @escaping @Sendable (UInt32) -> NodeConnectionRouter.Route) async throws -> UInt32 {
        let payload: [UInt8]
        do throws(WireError) {
            payload = try request.encodePayload()
        } catch {
            throw NodeConnectionError.invalidRequest(error.message)
        }
        let frame = WireFrame(type: request.frameType, requestID: 0, payload: ByteBuffer(bytes: payload))
        let cost = budgetCost(frame)
        do {
            _ = try await router.requestSlots.take(minimum: 1, maximum: 1)
        } catch is AsyncAllowance.Closed {
            throw router.failure ?? .closed(node: router.label, reason: "closed")
        }
        let slots = router.requestSlots
        do {
            try await takeBudget(cost)
        } catch {
            slots.add(1)
            throw error
        }
        let router = self.router
        let channel = self.channel
        let budget = router.writeBudget
        return try await channel.eventLoop.submit { () throws -> UInt32 in
            let id: UInt32
            do {
                id = try router.register(route)
            } catch {
                budget.add(cost)
                slots.add(1)
                throw error
            }
            var numbered = frame
            numbered.header.requestID = id
            let promise = channel.eventLoop.makePromise(of: Void.self)
            promise.futureResult.whenComplete { _ in budget.add(cost) }
            channel.writeAndFlush(numbered, promise: promise)
            return id
        }.get()
    }

    /// Sends a single-reply request and waits for its reply (an ERROR throws `NodeLinkError`).
    func call(_ request: WireRequest) async throws -> WireReply {
        let promise = channel.eventLoop.makePromise(of: WireFrame.self)
        let id: UInt32
        do {
            id = try await start(request) { _ in .reply(promise) }
        } catch {
            promise.fail(error)  // never registered: nobody else completes it
            throw error
        }
        let frame = try await withTaskCancellationHandler {
            try await promise.futureResult.get()
        } onCancel: {
            if case let .reply(pending)? = router.remove(id) {
                pending.fail(CancellationError())
                sendControl(.cancel, id: id, payload: [])
            }
        }
        guard let reply = try? WireReply.decode(type: frame.type, payload: frame.payloadBytes),
              reply.frameType == request.frameType.reply else {
            throw NodeConnectionError.protocolViolation(node: router.label, reason: "\(frame.type) does not answer \(request.frameType)")
        }
        return reply
    }
}
