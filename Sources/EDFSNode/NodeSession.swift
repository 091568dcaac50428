import EDFSFormat
import EDFSTransport
import Logging
import NIOCore

/// One client connection of a node: the reader loop, which reads frames in order, answers HELLO, checks request
/// ids and dispatches each frame to its path (docs/PROTOCOL.md): `LoginPath`, `UploadPath` (PUT data is written by
/// the reader loop itself, so the socket is not read further while the disk is behind), `DownloadPath` and
/// `ControlRequests` (served concurrently as child tasks).
final class NodeSession: Sendable {
    let services: NodeServices
    let channel: any Channel
    let output: SessionOutput
    /// The peer's IP address (no port): the key of login throttling and the name in logs.
    let peer: String
    let table: NodeRequestTable
    private let loginPath: LoginPath
    private let downloads: DownloadPath
    private let control: ControlRequests

    /// The peer's IP address for the per-address caps; nil for a local socket.
    let address: String?

    init(services: NodeServices, channel: any Channel, outbound: NIOAsyncChannelOutboundWriter<WireFrame>,
         writability: WritabilityGate) {
        self.services = services
        self.channel = channel
        address = channel.remoteAddress?.ipAddress
        let peer = address ?? "local socket"
        let table = NodeRequestTable()
        let output = SessionOutput(channel: channel, outbound: outbound, table: table,
                                   meter: RequestMeter(metrics: services.metrics), writability: writability)
        self.peer = peer
        self.table = table
        self.output = output
        loginPath = LoginPath(services: services, table: table, peer: peer)
        downloads = DownloadPath(services: services, output: output, peer: peer)
        control = ControlRequests(services: services)
    }

    /// State only the reader loop touches.
    private struct LoopState {
        var highestID: UInt32 = 0
        var helloDone = false
        /// Moved to the node's logged-in pool (after a successful LOGIN).
        var promoted = false
        var uploads: UploadPath
    }

    /// Serves the connection until the peer leaves, a fatal error, or the node stops. Returns why it ended.
    func run(inbound: NIOAsyncChannelInboundStream<WireFrame>) async -> String {
        var loop = LoopState(uploads: UploadPath(services: services, output: output, peer: peer))
        var reason = "closed by the client"
        let loginTimeout = loginPath.armTimeout(on: channel)
        await withDiscardingTaskGroup { group in
            do {
                for try await frame in inbound {
                    do throws(WireError) {
                        try await handle(frame, &loop, &group)
                    } catch {
                        reason = "refused: \(error)"
                        output.meter.fail(frame.header.requestID, error)
                        await SessionOutput.sendLast(.error(error, requestID: error.fatal ? 0 : frame.header.requestID),
                                                     on: channel)
                        break
                    }
                }
            } catch let error as WireError {
                reason = "refused: \(error)"
                await SessionOutput.sendLast(.error(error, requestID: 0), on: channel)
            } catch {
                reason = "failed: \(PeerFailureText.describe(error))"
            }
            loginTimeout.cancel()
            loop.uploads.abortAll()
            table.closeAll()
            output.meter.abandonAll()
            group.cancelAll()
        }
        return reason
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
        output.meter.begin(id, RequestTypeLabel(frame.header.type))
        let payload = frame.payload.getBytes(at: frame.payload.readerIndex, length: frame.payload.readableBytes) ?? []
        guard let request = try WireRequest.decode(type: frame.header.type, payload: payload),
              services.configuration.servesBulkManifestWrites || frame.header.type != .putManifests else {
            guard loop.helloDone else { throw WireError(.malformed, "HELLO must be the first frame", fatal: true) }
            await output.send(.error(WireError(.unsupported, "unknown operation \(frame.header.type)"), requestID: id))
            return
        }

        if case let .hello(versions, _) = request {
            guard !loop.helloDone else { throw WireError(.malformed, "second HELLO", fatal: true) }
            guard let version = versions.filter({ WireProtocol.supportedVersions.contains($0) }).max() else {
                throw WireError(.unsupported, "no common protocol version (node speaks "
                    + WireProtocol.supportedVersions.map(String.init).joined(separator: ", ") + ")", fatal: true)
            }
            loop.helloDone = true
            await output.send(SessionOutput.frame(.hello(version: version, nodeName: services.configuration.name,
                                                         limits: services.wireLimits), id))
            return
        }
        guard loop.helloDone else { throw WireError(.malformed, "HELLO must be the first frame", fatal: true) }

        if case let .login(method, user, proof) = request {
            let reply = await loginPath.login(id: id, method: method, user: user, proof: proof)
            try promoteOnceLoggedIn(&loop)
            await output.send(reply)
            return
        }
        if case let .loginContinue(message) = request {
            // A SCRAM login ends here: the same caps as an MD5 login.
            let reply = await loginPath.loginContinue(id: id, message: message)
            try promoteOnceLoggedIn(&loop)
            await output.send(reply)
            return
        }
        guard let user = table.user else {
            await output.send(.error(WireError(.notAuthenticated, "log in first"), requestID: id))
            return
        }
        guard table.count < services.limits.maxStreams else {
            throw WireError(.limitExceeded, "more than \(services.limits.maxStreams) requests in flight", fatal: true)
        }

        switch request {
        case let .putObject(objectID, length):
            await loop.uploads.begin(id: id, user: user, objectID: objectID, length: length)
        case let .getObject(objectID, offset, length, asked):
            do throws(WireError) {
                try services.admission.beginGet(user: user, address: address)
            } catch {
                await output.send(.error(error, requestID: id))
                return
            }
            // Credit beyond the cap is not trusted: the node holds at most `maxGetWindow` for a GET.
            let window = min(Int(asked), max(1, services.limits.maxGetWindow))
            let gate = AsyncAllowance(window)
            table.begin(id, .download(gate))
            group.addTask { [downloads, services, address] in
                await downloads.serve(id: id, user: user, objectID: objectID, offset: offset, length: length,
                                      window: UInt32(window), credit: gate)
                services.admission.endGet(user: user, address: address)
            }
        default:
            if let refusal = ControlRequests.refusal(of: request) {
                await output.send(.error(refusal, requestID: id))
                return
            }
            table.begin(id, .control)
            group.addTask { [control, output] in await control.serve(id: id, user: user, request: request, output: output) }
        }
    }

    /// DATA, END, WINDOW and CANCEL: the frames of a request already made.
    /// Once the session has logged in, moves it to the logged-in pool: the caps per node, user and address apply to
    /// every login method; a refusal is FATAL.
    private func promoteOnceLoggedIn(_ loop: inout LoopState) throws(WireError) {
        guard let user = table.user, !loop.promoted else { return }
        try services.admission.promote(ObjectIdentifier(channel), user: user)
        loop.promoted = true
    }

    private func handleStreamFrame(_ frame: WireFrame, _ loop: inout LoopState,
                                   _ group: inout DiscardingTaskGroup) async throws(WireError) {
        let id = frame.header.requestID
        let kind = table.kind(of: id)
        switch frame.header.type {
        case .data:
            try await loop.uploads.data(frame, kind: kind)
        case .end:
            guard frame.header.payloadLength == 0 else { throw WireError(.malformed, "END has a payload", fatal: true) }
            try loop.uploads.end(id: id, kind: kind, in: &group)
        case .window:
            let bytes = frame.payload.getBytes(at: frame.payload.readerIndex, length: frame.payload.readableBytes) ?? []
            let increment = try WireWindow.decode(payload: bytes)
            switch kind {
            case let .download(gate)?:
                gate.add(max(0, min(Int(increment), services.limits.maxGetWindow - gate.available)))
            case nil: return
            default: throw WireError(.malformed, "WINDOW for request \(id), which is not a GET", fatal: true)
            }
        default:  // CANCEL
            guard frame.header.payloadLength == 0 else { throw WireError(.malformed, "CANCEL has a payload", fatal: true) }
            loop.uploads.cancel(id: id)
            if case let .download(gate)? = kind { gate.close() }
            // A finishing PUT still completes (its END arrived); its reply is just not sent.
            if table.finish(id) { output.meter.cancel(id) }
        }
    }
}
