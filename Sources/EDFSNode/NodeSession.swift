import EDFSFormat
import EDFSTransport
import Logging
import NIOCore

/// One client connection of a node: reads frames in order, answers HELLO and LOGIN, and serves requests
/// concurrently (docs/PROTOCOL.md). PUT data is written to disk by the reader loop itself, so the socket is not
/// read further while the disk is behind; GETs and single-reply requests run as child tasks.
final class NodeSession: Sendable {
    let services: NodeServices
    let channel: any Channel
    let outbound: NIOAsyncChannelOutboundWriter<WireFrame>
    /// The peer's IP address (no port): the key of login throttling and the name in logs.
    let peer: String
    let table = NodeRequestTable()

    init(services: NodeServices, channel: any Channel, outbound: NIOAsyncChannelOutboundWriter<WireFrame>) {
        self.services = services
        self.channel = channel
        self.outbound = outbound
        peer = channel.remoteAddress?.ipAddress ?? "unknown"
    }

    /// State only the reader loop touches.
    private struct LoopState {
        var highestID: UInt32 = 0
        var helloDone = false
        var uploads: [UInt32: ObjectWriter] = [:]
    }

    /// Serves the connection until the peer leaves, a fatal error, or the node stops. Returns why it ended.
    func run(inbound: NIOAsyncChannelInboundStream<WireFrame>) async -> String {
        var loop = LoopState()
        var reason = "closed by the client"
        await withDiscardingTaskGroup { group in
            let loginTimeout = services.limits.loginTimeout
            group.addTask { [self] in
                try? await Task.sleep(for: loginTimeout)
                guard !Task.isCancelled, table.user == nil else { return }
                await Self.sendLast(.error(WireError(.timeout, "no login within \(loginTimeout)", fatal: true),
                                           requestID: 0), on: channel)
                channel.close(promise: nil)
            }
            do {
                for try await frame in inbound {
                    do throws(WireError) {
                        try await handle(frame, &loop, &group)
                    } catch {
                        reason = "refused: \(error)"
                        await Self.sendLast(.error(error, requestID: error.fatal ? 0 : frame.header.requestID),
                                            on: channel)
                        break
                    }
                }
            } catch let error as WireError {
                reason = "refused: \(error)"
                await Self.sendLast(.error(error, requestID: 0), on: channel)
            } catch {
                reason = "failed: \(error)"
            }
            for writer in loop.uploads.values { writer.abort() }
            loop.uploads.removeAll()
            table.closeAll()
            group.cancelAll()
        }
        return reason
    }

    // MARK: Sending

    /// Writes a frame; a connection that is gone is ignored (the reader loop notices and ends).
    func send(_ frame: WireFrame) async {
        try? await outbound.write(frame)
    }

    /// Writes a connection's last frame and waits until it is on the wire (at most 2 s), so that closing right
    /// after does not drop it.
    static func sendLast(_ frame: WireFrame, on channel: any Channel) async {
        let deadline = channel.eventLoop.scheduleTask(in: .seconds(2)) { channel.close(promise: nil) }
        try? await channel.writeAndFlush(frame).get()
        deadline.cancel()
    }

    func reply(_ reply: WireReply, _ id: UInt32) -> WireFrame {
        do throws(WireError) {
            return WireFrame(type: reply.frameType, requestID: id, payload: ByteBuffer(bytes: try reply.encodePayload()))
        } catch {
            return .error(WireError(.internal, "reply does not encode: \(error)"), requestID: id)
        }
    }

    /// Sends the final frame of a request unless it was cancelled or the connection ended meanwhile.
    func finish(_ id: UInt32, with frame: WireFrame) async {
        if table.finish(id) { await send(frame) }
    }

    // MARK: The reader loop

    private func handle(_ frame: WireFrame, _ loop: inout LoopState,
                        _ group: inout DiscardingTaskGroup) async throws(WireError) {
        let id = frame.header.requestID
        switch frame.header.type {
        case .data, .end, .window, .cancel:
            guard id != 0, id <= loop.highestID else {
                throw WireError(.malformed, "\(frame.header.type) for request \(id), which was never made", fatal: true)
            }
            try await handleStreamFrame(frame, &loop, &group)
            return
        default:
            break
        }

        guard id > loop.highestID else {
            throw WireError(.malformed, "request id \(id) is not greater than the previous one (\(loop.highestID))",
                            fatal: true)
        }
        loop.highestID = id
        let payload = frame.payload.getBytes(at: frame.payload.readerIndex, length: frame.payload.readableBytes) ?? []
        guard let request = try WireRequest.decode(type: frame.header.type, payload: payload) else {
            guard loop.helloDone else { throw WireError(.malformed, "HELLO must be the first frame", fatal: true) }
            await send(.error(WireError(.unsupported, "unknown operation \(frame.header.type)"), requestID: id))
            return
        }

        if case let .hello(versions, _) = request {
            guard !loop.helloDone else { throw WireError(.malformed, "second HELLO", fatal: true) }
            guard let version = versions.filter({ WireProtocol.supportedVersions.contains($0) }).max() else {
                throw WireError(.unsupported, "no common protocol version (node speaks "
                    + WireProtocol.supportedVersions.map(String.init).joined(separator: ", ") + ")", fatal: true)
            }
            loop.helloDone = true
            await send(reply(.hello(version: version, nodeName: services.configuration.name,
                                    limits: services.wireLimits), id))
            return
        }
        guard loop.helloDone else { throw WireError(.malformed, "HELLO must be the first frame", fatal: true) }

        if case let .login(method, user, proof) = request {
            await login(id: id, method: method, user: user, proof: proof)
            return
        }
        guard let user = table.user else {
            await send(.error(WireError(.notAuthenticated, "log in first"), requestID: id))
            return
        }
        guard table.count < services.limits.maxStreams else {
            throw WireError(.limitExceeded, "more than \(services.limits.maxStreams) requests in flight", fatal: true)
        }

        switch request {
        case let .setVerifier(payload):
            guard payload.count == 17, payload[0] == WireRequest.loginMethodMD5 else {
                await send(.error(WireError(.malformed, "SET_VERIFIER takes method 1 and a 16-byte MD5 digest"),
                                  requestID: id))
                return
            }
            table.begin(id, .control)
            group.addTask { [self] in await serveControl(id: id, user: user, request: request) }
        case let .putObject(objectID, length):
            await beginPut(id: id, user: user, objectID: objectID, length: length, &loop)
        case let .getObject(objectID, offset, length, window):
            let gate = AsyncAllowance(Int(window))
            table.begin(id, .download(gate))
            group.addTask { [self] in
                await serveGet(id: id, user: user, objectID: objectID, offset: offset, length: length,
                               window: window, credit: gate)
            }
        default:
            table.begin(id, .control)
            group.addTask { [self] in await serveControl(id: id, user: user, request: request) }
        }
    }

    private func handleStreamFrame(_ frame: WireFrame, _ loop: inout LoopState,
                                   _ group: inout DiscardingTaskGroup) async throws(WireError) {
        let id = frame.header.requestID
        let kind = table.kind(of: id)
        switch frame.header.type {
        case .data:
            guard let writer = loop.uploads[id] else {
                if kind != nil { throw WireError(.malformed, "DATA for request \(id), which is not a PUT", fatal: true) }
                return  // raced our ERROR or the client's CANCEL
            }
            let payload = frame.payload
            do throws(StoreError) {
                try await services.blocking { () throws(StoreError) in
                    let failure: StoreError? = payload.withUnsafeReadableBytes { raw in
                        do throws(StoreError) { try writer.append(raw) } catch { return error }
                        return nil
                    }
                    if let failure { throw failure }
                }
            } catch {
                loop.uploads[id] = nil
                writer.abort()
                await finish(id, with: .error(error.wire, requestID: id))
            }
        case .end:
            guard frame.header.payloadLength == 0 else { throw WireError(.malformed, "END has a payload", fatal: true) }
            guard let writer = loop.uploads.removeValue(forKey: id) else {
                if kind != nil { throw WireError(.malformed, "END for request \(id), which is not a PUT", fatal: true) }
                return
            }
            table.update(id, to: .finishing)
            group.addTask { [self] in
                do throws(StoreError) {
                    try await services.blocking { () throws(StoreError) in try writer.commit() }
                    await finish(id, with: reply(.putObject(length: writer.announcedLength), id))
                } catch {
                    writer.abort()
                    services.logger.warning("put failed: \(error)", metadata: ["peer": "\(peer)"])
                    await finish(id, with: .error(error.wire, requestID: id))
                }
            }
        case .window:
            let bytes = frame.payload.getBytes(at: frame.payload.readerIndex, length: frame.payload.readableBytes) ?? []
            let increment = try WireWindow.decode(payload: bytes)
            switch kind {
            case let .download(gate)?: gate.add(Int(increment))
            case nil: return
            default: throw WireError(.malformed, "WINDOW for request \(id), which is not a GET", fatal: true)
            }
        default:  // CANCEL
            guard frame.header.payloadLength == 0 else { throw WireError(.malformed, "CANCEL has a payload", fatal: true) }
            if let writer = loop.uploads.removeValue(forKey: id) { writer.abort() }
            if case let .download(gate)? = kind { gate.close() }
            // A finishing PUT still completes (its END arrived); its reply is just not sent.
            table.finish(id)
        }
    }

    // MARK: Requests

    private func login(id: UInt32, method: UInt8, user: String, proof: String) async {
        guard table.user == nil else {
            await send(.error(WireError(.conflict, "already logged in"), requestID: id))
            return
        }
        guard method == WireRequest.loginMethodMD5 else {
            await send(.error(WireError(.unsupported, "login method \(method) is not supported"), requestID: id))
            return
        }
        switch await services.loginGuard.attempt(user: user, proof: proof, peer: peer) {
        case .success:
            table.setUser(user)
            await send(reply(.login, id))
        case let .failure(error, failures):
            services.logger.warning("failed login for user \(WireName.quoted(user)) from \(peer) (\(failures) in a row)")
            await send(.error(error, requestID: id))
        }
    }

    private func beginPut(id: UInt32, user: String, objectID: String, length: UInt64, _ loop: inout LoopState) async {
        guard WireName.isValidID(objectID) else {
            await send(.error(WireError(.invalidName, "object id \(WireName.quoted(objectID)) is not allowed"),
                              requestID: id))
            return
        }
        guard length <= services.limits.maxObjectLength else {
            await send(.error(WireError(.tooLarge, "object of \(length) bytes is over the limit of "
                + "\(services.limits.maxObjectLength)"), requestID: id))
            return
        }
        let store = services.store
        do throws(StoreError) {
            let writer = try await services.blocking { () throws(StoreError) -> ObjectWriter in
                try store.beginWrite(user: user, id: objectID, length: length)
            }
            loop.uploads[id] = writer
            table.begin(id, .upload)
        } catch {
            await send(.error(error.wire, requestID: id))
        }
    }

    private func serveGet(id: UInt32, user: String, objectID: String, offset: UInt64, length: UInt64,
                          window: UInt32, credit: AsyncAllowance) async {
        let store = services.store
        do throws(StoreError) {
            let reader = try await services.blocking { () throws(StoreError) -> ObjectReader in
                try store.openReader(user: user, id: objectID)
            }
            guard offset <= reader.length else {
                throw .invalid("offset \(offset) is past the end of the object (\(reader.length) bytes)")
            }
            let end = offset + min(length, reader.length - offset)
            guard table.isActive(id) else { return }
            await send(reply(.getObject(objectLength: reader.length, sendLength: end - offset), id))
            var position = offset
            while position < end {
                position = try await sendBlock(id: id, reader: reader, from: position, to: end, credit: credit,
                                               window: Int(window))
            }
            await finish(id, with: WireFrame(type: .end, requestID: id, payload: ByteBuffer()))
        } catch {
            services.logger.warning("get failed: \(error)", metadata: ["peer": "\(peer)"])
            await finish(id, with: .error(error.wire, requestID: id))
        }
    }

    /// Sends bytes from `position` to the end of its block (or `end`): waits for the client's credit first (holding no
    /// memory), then reads and verifies the block with buffer budget, and sends as much as the credit allows. If the
    /// credit runs out inside the block, the buffer is dropped (the rest is read again later), so a reader that stops
    /// granting credit never holds node memory. Returns the position after what was sent; a cancelled GET or a
    /// closed connection returns `end`.
    private func sendBlock(id: UInt32, reader: ObjectReader, from position: UInt64, to end: UInt64,
                           credit: AsyncAllowance, window: Int) async throws(StoreError) -> UInt64 {
        let block = Int(position / UInt64(reader.blockSize))
        let blockStart = UInt64(block) * UInt64(reader.blockSize)
        let blockLength = reader.footer.length(ofBlock: block)
        var from = Int(position - blockStart)
        let to = Int(min(end, blockStart + UInt64(blockLength)) - blockStart)
        let maxPayload = services.limits.maxDataPayload

        // Credit for the whole part of this block (or half the client's window, if that is smaller).
        var granted: Int
        do {
            granted = try await credit.take(minimum: min(to - from, max(1, window / 2)), maximum: to - from)
        } catch {
            table.finish(id)
            return end  // CANCEL, or the connection ended
        }
        let budget = services.readBudget
        do {
            _ = try await budget.take(minimum: blockLength, maximum: blockLength)
        } catch {
            credit.add(granted)
            return end
        }
        defer { budget.add(blockLength) }
        let allocator = services.allocator
        let buffer = try await services.blocking { () throws(StoreError) -> ByteBuffer in
            var buffer = allocator.buffer(capacity: blockLength)
            var failure: StoreError?
            buffer.writeWithUnsafeMutableBytes(minimumWritableBytes: blockLength) { raw in
                do throws(StoreError) {
                    try reader.readBlock(block, into: UnsafeMutableRawBufferPointer(rebasing: raw[0..<blockLength]))
                    return blockLength
                } catch {
                    failure = error
                    return 0
                }
            }
            if let failure { throw failure }
            return buffer
        }
        while granted > 0 {
            let count = min(granted, maxPayload)
            guard table.isActive(id), let slice = buffer.getSlice(at: buffer.readerIndex + from, length: count) else {
                return end
            }
            do {
                try await outbound.write(WireFrame(type: .data, requestID: id, payload: slice))
            } catch {
                table.finish(id)
                return end
            }
            from += count
            granted -= count
            if granted == 0, from < to { granted = credit.takeAvailable(maximum: to - from) }
        }
        return blockStart + UInt64(from)
    }

    private func serveControl(id: UInt32, user: String, request: WireRequest) async {
        let services = self.services
        let store = services.store
        let maxPayload = services.limits.maxFrameLength - WireProtocol.lengthCountedHeaderBytes
        do throws(StoreError) {
            let result = try await services.blocking { () throws(StoreError) -> WireReply in
                switch request {
                case .status:
                    let counts = try store.counts(user: user)
                    let space = try store.space()
                    let uptime = ContinuousClock.now - services.started
                    return .status(WireNodeStatus(
                        nodeName: services.configuration.name, freeBytes: space.free, totalBytes: space.total,
                        objectCount: UInt64(counts.objects), manifestCount: UInt64(counts.manifests),
                        uptimeSeconds: UInt64(max(0, uptime.components.seconds))))
                case let .statObject(objectID, verify):
                    let stat = try store.stat(user: user, id: objectID, verify: verify)
                    return .statObject(length: stat.length, blockSize: UInt32(stat.blockSize), state: stat.state)
                case let .deleteObject(objectID):
                    try store.delete(user: user, id: objectID)
                    return .deleteObject
                case let .list(kind, startAfter, limit):
                    let page = try store.list(user: user, namespace: kind == .objects ? .objects : .manifests,
                                              startAfter: startAfter, limit: Int(limit))
                    // Never more than one frame: cut the page (and say there is more) if need be.
                    var size = 3
                    var entries: [WireListEntry] = []
                    for entry in page.entries {
                        size += WireReply.encodedLength(of: entry)
                        if size > maxPayload { break }
                        entries.append(entry)
                    }
                    return .list(entries: entries, more: page.more || entries.count < page.entries.count)
                case let .putManifest(manifestID, bytes):
                    try store.putManifest(user: user, id: manifestID, bytes: bytes)
                    return .putManifest
                case let .getManifest(manifestID):
                    return .getManifest(bytes: try store.readAll(user: user, namespace: .manifests, id: manifestID))
                case let .deleteManifest(manifestID, bound):
                    try store.deleteManifest(user: user, id: manifestID, ifVersionAtMost: bound)
                    return .deleteManifest
                case let .putKeyslot(bytes):
                    try store.putKeyslot(user: user, bytes: bytes)
                    return .putKeyslot
                case .getKeyslot:
                    return .getKeyslot(bytes: try store.getKeyslot(user: user))
                case let .setVerifier(payload):
                    try store.putVerifier(user: user, digest: Array(payload[1...]))
                    return .setVerifier
                default:
                    throw .invalid("not a single-reply request")
                }
            }
            await finish(id, with: reply(result, id))
        } catch {
            await finish(id, with: .error(error.wire, requestID: id))
        }
    }
}
