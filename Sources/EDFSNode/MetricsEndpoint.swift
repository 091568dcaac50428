import EDFSCrypto
import EDFSFormat
import Logging
import NIOCore
import NIOHTTP1
import NIOPosix

/// The node's Prometheus endpoint (`MetricsListen:`, docs/METRICS.md): plain HTTP/1.1 that answers `GET /metrics`
/// with the node's registry and every other path with 404 (other methods on `/metrics`: 405). It must not become a
/// lever against the node: at most `maxConnections` connections at once (more are closed on accept), one request per
/// connection (`Connection: close`), at most `maxRequestBytes` read from a connection (then it is closed), the
/// request within `requestTimeout` (`NodeConfiguration.metricsRequestTimeout`, 5 s) and the whole exchange within
/// `connectionLifetime`, and scrapes one at a time with the storage walk reused (`MetricsScrape`). No TLS and no authentication: bind it to loopback or a private
/// monitoring network, never to a public address.
final class MetricsEndpoint: Sendable {
    /// Connections served at once.
    static let maxConnections = 4
    /// Bytes read from one connection at most (the request line and headers of a scrape are a few hundred).
    static let maxRequestBytes = 8 << 10
    /// Time from accept to the close, whatever happens.
    static let connectionLifetime: Duration = .seconds(30)

    private typealias HTTPChannel = NIOAsyncChannel<HTTPServerRequestPart, HTTPServerResponsePart>

    private struct State {
        var server: (any Channel)?
        var acceptTask: Task<Void, Never>?
        var open: [ObjectIdentifier: any Channel] = [:]
        var stopped = false
    }

    private let scrape: MetricsScrape
    /// Time from accept to the end of the request.
    private let requestTimeout: Duration
    private let logger: Logger
    private let state = PthreadMutex(State())

    init(scrape: MetricsScrape, requestTimeout: Duration, logger: Logger) {
        self.scrape = scrape
        self.requestTimeout = requestTimeout
        self.logger = logger
    }

    /// Binds `host:port` (port 0: a free port) and serves in the background; returns the bound address.
    func start(host: String, port: Int, group: any EventLoopGroup) async throws(NodeStartError) -> SocketAddress {
        let server: NIOAsyncChannel<HTTPChannel, Never>
        do {
            server = try await ServerBootstrap(group: group)
                .serverChannelOption(.backlog, value: 16)
                .serverChannelOption(.socketOption(.so_reuseaddr), value: 1)
                .bind(host: host, port: port) { channel in
                    channel.eventLoop.makeCompletedFuture {
                        let sync = channel.pipeline.syncOperations
                        try sync.addHandler(RequestSizeLimit(maxBytes: Self.maxRequestBytes))
                        try sync.configureHTTPServerPipeline(withPipeliningAssistance: false, withErrorHandling: true)
                        return try HTTPChannel(wrappingChannelSynchronously: channel)
                    }
                }
        } catch {
            throw BindFailure.error(error, host: host, port: port, what: "metrics address ",
                                    otherPort: "change the MetricsListen: line of the config",
                                    setting: " (MetricsListen:)")
        }
        guard let address = server.channel.localAddress else {
            server.channel.close(promise: nil)
            throw .bind("metrics endpoint: no local address")
        }
        let task = Task { await acceptLoop(server) }
        state.withLock { s in
            s.server = server.channel
            s.acceptTask = task
        }
        return address
    }

    private func acceptLoop(_ server: NIOAsyncChannel<HTTPChannel, Never>) async {
        do {
            try await server.executeThenClose { inbound in
                try await withThrowingDiscardingTaskGroup { group in
                    for try await connection in inbound {
                        let channel = connection.channel
                        let admitted = state.withLock { s -> Bool in
                            guard !s.stopped, s.open.count < Self.maxConnections else { return false }
                            s.open[ObjectIdentifier(channel)] = channel
                            return true
                        }
                        group.addTask {
                            if admitted {
                                await self.serve(connection)
                            } else {
                                self.logger.debug("metrics: closed a connection: \(Self.maxConnections) are open")
                                try? await connection.executeThenClose { _, outbound in outbound.finish() }
                            }
                        }
                    }
                }
            }
        } catch {
            logger.error("metrics endpoint failed: \(error)")
        }
    }

    /// Reads one request, answers it, closes.
    private func serve(_ connection: HTTPChannel) async {
        let channel = connection.channel
        let lifetime = ConnectionDeadline(on: channel, after: Self.connectionLifetime) { channel.close(promise: nil) }
        let request = ConnectionDeadline(on: channel, after: requestTimeout) { channel.close(promise: nil) }
        defer {
            request.cancel()
            lifetime.cancel()
            _ = state.withLock { $0.open.removeValue(forKey: ObjectIdentifier(channel)) }
        }
        do {
            try await connection.executeThenClose { inbound, outbound in
                var head: HTTPRequestHead?
                reading: for try await part in inbound {
                    switch part {
                    case let .head(received): head = received
                    case .body: continue
                    case .end: break reading
                    }
                }
                request.cancel()
                guard let head else { return }
                let answer = await respond(to: head)
                var headers = HTTPHeaders()
                headers.add(name: "Content-Type", value: answer.contentType)
                headers.add(name: "Content-Length", value: String(answer.body.count))
                headers.add(name: "Connection", value: "close")
                if answer.status == .methodNotAllowed { headers.add(name: "Allow", value: "GET") }
                try await outbound.write(.head(HTTPResponseHead(version: .http1_1, status: answer.status,
                                                                headers: headers)))
                try await outbound.write(.body(.byteBuffer(ByteBuffer(bytes: answer.body))))
                try await outbound.write(.end(nil))
            }
        } catch {
            logger.debug("metrics: connection ended: \(error)")
        }
    }

    private func respond(to head: HTTPRequestHead) async -> (status: HTTPResponseStatus, contentType: String,
                                                               body: [UInt8]) {
        let text = "text/plain; charset=utf-8"
        let path = head.uri.split(separator: "?", maxSplits: 1, omittingEmptySubsequences: false).first ?? ""
        guard path == "/metrics" else { return (.notFound, text, Array("not found: only GET /metrics\n".utf8)) }
        guard head.method == .GET else { return (.methodNotAllowed, text, Array("only GET\n".utf8)) }
        guard let body = await scrape.render() else {
            return (.serviceUnavailable, text, Array("the node is stopping\n".utf8))
        }
        return (.ok, "text/plain; version=0.0.4; charset=utf-8", body)
    }

    /// Stops accepting, closes every connection and waits for the listener to finish.
    func stop() async {
        let (server, task, open) = state.withLock { s in
            s.stopped = true
            return (s.server, s.acceptTask, Array(s.open.values))
        }
        scrape.close()
        try? await server?.close()
        for channel in open { channel.close(promise: nil) }
        await task?.value
    }
}

/// Closes a metrics connection that sends more than `maxBytes`: a scrape is a few hundred bytes, so anything larger
/// is not one.
private final class RequestSizeLimit: ChannelInboundHandler {
    typealias InboundIn = ByteBuffer
    typealias InboundOut = ByteBuffer

    private let maxBytes: Int
    private var seen = 0

    init(maxBytes: Int) { self.maxBytes = maxBytes }

    func channelRead(context: ChannelHandlerContext, data: NIOAny) {
        seen += unwrapInboundIn(data).readableBytes
        guard seen <= maxBytes else {
            context.close(promise: nil)
            return
        }
        context.fireChannelRead(data)
    }
}
