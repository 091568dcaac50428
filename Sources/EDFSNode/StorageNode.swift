import EDFSCrypto
import EDFSFormat
import Logging
import EDFSTransport
import NIOCore
import NIOPosix
import NIOSSL
import Synchronization

/// Why a node could not start.
public enum NodeStartError: Error, CustomStringConvertible, Sendable {
    /// A certificate, key or CA file could not be used.
    case tls(String)
    /// The data directory could not be opened or cleaned.
    case store(StoreError)
    /// The listen address could not be bound.
    case bind(String)
    /// `start()` was called twice, or after `shutdown()`.
    case alreadyStarted

    public var description: String {
        switch self {
        case let .tls(why): return "TLS setup failed: \(why)"
        case let .store(error): return "data directory: \(error)"
        case let .bind(why): return "cannot listen: \(why)"
        case .alreadyStarted: return "the node was already started"
        }
    }
}

/// A storage node: a TLS 1.3 listener in front of a durable per-user object store (DESIGN.md §4,
/// docs/PROTOCOL.md). `start()` binds and serves in the background; `shutdown()` stops accepting, closes every
/// connection (discarding unfinished uploads) and waits until all is quiet.
public final class StorageNode: Sendable {
    public let configuration: NodeConfiguration
    /// The node's store (scrub, inspection).
    public let store: ObjectStore
    private let services: NodeServices
    private let group: any EventLoopGroup
    private let sslContext: NIOSSLContext
    private let logger: Logger

    private struct RunState {
        var started = false
        var stopped = false
        var serverChannel: (any Channel)?
        var acceptTask: Task<Void, Never>?
        var connections: [ObjectIdentifier: any Channel] = [:]
        var boundAddress: SocketAddress?
    }

    private let state = Mutex(RunState())

    /// Loads the certificate and key (checking the certificate was issued by the CA), opens the store and removes
    /// temporary files a crash left behind. Does not listen yet.
    public init(configuration: NodeConfiguration, eventLoopGroup: (any EventLoopGroup)? = nil,
                logger: Logger = Logger(label: "edfs.node")) throws(NodeStartError) {
        self.configuration = configuration
        self.group = eventLoopGroup ?? MultiThreadedEventLoopGroup.singleton
        self.logger = logger
        do {
            try DevelopmentPKI.verifyIssued(certificatePath: configuration.certificateFile,
                                            caCertificatePath: configuration.caFile)
            let chain = try NIOSSLCertificate.fromPEMFile(configuration.certificateFile)
            let key = try NIOSSLPrivateKey(file: configuration.privateKeyFile, format: .pem)
            var tls = TLSConfiguration.makeServerConfiguration(certificateChain: chain.map { .certificate($0) },
                                                               privateKey: .privateKey(key))
            tls.minimumTLSVersion = .tlsv13
            tls.maximumTLSVersion = .tlsv13
            sslContext = try NIOSSLContext(configuration: tls)
        } catch {
            throw .tls("\(error) (certificate \(configuration.certificateFile), key \(configuration.privateKeyFile), "
                + "CA \(configuration.caFile))")
        }
        do throws(StoreError) {
            store = try ObjectStore(root: configuration.dataDirectory, blockSize: configuration.blockSize)
            let removed = try store.removeTemporaries()
            if removed > 0 { logger.notice("removed \(removed) temporary files left by an earlier run") }
        } catch {
            throw .store(error)
        }
        let pool = NIOThreadPool(numberOfThreads: 4)
        pool.start()
        let verifiers = store
        services = NodeServices(
            configuration: configuration, store: store,
            loginGuard: LoginGuard(digests: configuration.users, throttle: configuration.limits.loginThrottle,
                                   storedVerifier: { verifiers.verifier(user: $0) }),
            pool: pool, readBudget: AsyncAllowance(max(configuration.limits.readBufferBudget, configuration.blockSize)),
            logger: logger, started: .now)
    }

    /// The address the node listens on, once started.
    public var boundAddress: SocketAddress? { state.withLock { $0.boundAddress } }

    /// Binds the listen address and starts serving; returns the bound address (the real port when 0 was asked).
    @discardableResult
    public func start() async throws(NodeStartError) -> SocketAddress {
        let fresh = state.withLock { s -> Bool in
            defer { s.started = true }
            return !s.started
        }
        guard fresh else { throw .alreadyStarted }
        let limits = configuration.limits
        let sslContext = self.sslContext
        let server: NIOAsyncChannel<NIOAsyncChannel<WireFrame, WireFrame>, Never>
        do {
            server = try await ServerBootstrap(group: group)
                .serverChannelOption(.backlog, value: 256)
                .serverChannelOption(.socketOption(.so_reuseaddr), value: 1)
                .childChannelOption(.socketOption(.tcp_nodelay), value: 1)
                .childChannelOption(.writeBufferWaterMark, value: .init(low: 512 << 10, high: 2 << 20))
                .childChannelOption(.recvAllocator, value: AdaptiveRecvByteBufferAllocator(
                    minimum: 1024, initial: 64 << 10, maximum: 1 << 20))
                .bind(host: configuration.host, port: configuration.port) { channel in
                    channel.eventLoop.makeCompletedFuture {
                        let sync = channel.pipeline.syncOperations
                        try sync.addHandler(NIOSSLServerHandler(context: sslContext))
                        try sync.addHandler(IdleStateHandler(allTimeout: TimeAmount(limits.idleTimeout)))
                        try sync.addHandler(WireFrameDecoder(maxLengthField: limits.maxFrameLength))
                        try sync.addHandler(WireFrameEncoder())
                        try sync.addHandler(IdleCloser())
                        return try NIOAsyncChannel<WireFrame, WireFrame>(
                            wrappingChannelSynchronously: channel,
                            configuration: .init(backPressureStrategy: .init(
                                lowWatermark: 1, highWatermark: max(2, limits.inboundFrameBuffer))))
                    }
                }
        } catch {
            throw .bind("\(configuration.host):\(configuration.port): \(error)")
        }
        guard let address = server.channel.localAddress else {
            server.channel.close(promise: nil)
            throw .bind("no local address")
        }
        let task = Task { await acceptLoop(server) }
        state.withLock { s in
            s.serverChannel = server.channel
            s.acceptTask = task
            s.boundAddress = address
        }
        logger.info("node \(configuration.name) listening on \(Self.describe(address))")
        return address
    }

    private func acceptLoop(_ server: NIOAsyncChannel<NIOAsyncChannel<WireFrame, WireFrame>, Never>) async {
        do {
            try await server.executeThenClose { inbound in
                try await withThrowingDiscardingTaskGroup { group in
                    for try await connection in inbound {
                        group.addTask { await self.serve(connection) }
                    }
                }
            }
        } catch {
            logger.error("listener failed: \(error)")
        }
    }

    private func serve(_ connection: NIOAsyncChannel<WireFrame, WireFrame>) async {
        let channel = connection.channel
        let key = ObjectIdentifier(channel)
        let peer = channel.remoteAddress.map(Self.describe) ?? "unknown"
        let admitted = state.withLock { s -> Bool in
            guard !s.stopped, s.connections.count < configuration.limits.maxConnections else { return false }
            s.connections[key] = channel
            return true
        }
        guard admitted else {
            logger.warning("connection from \(peer) refused: more than \(configuration.limits.maxConnections) connections")
            try? await connection.executeThenClose { _, _ in
                await NodeSession.sendLast(.error(WireError(.limitExceeded, "the node serves at most "
                    + "\(configuration.limits.maxConnections) connections", fatal: true), requestID: 0), on: channel)
            }
            return
        }
        defer { _ = state.withLock { $0.connections.removeValue(forKey: key) } }
        let began = ContinuousClock.now
        var reason = "closed"
        var session: NodeSession?
        do {
            try await connection.executeThenClose { inbound, outbound in
                let current = NodeSession(services: services, channel: channel, outbound: outbound)
                session = current
                reason = await current.run(inbound: inbound)
            }
        } catch {
            reason = "failed: \(error)"
        }
        let seconds = Double((ContinuousClock.now - began).components.attoseconds) / 1e18
            + Double((ContinuousClock.now - began).components.seconds)
        let user = session?.table.user ?? "-"
        let requests = session?.table.requestCount ?? 0
        let tenths = Int((seconds * 10).rounded())
        let line = "connection from \(peer): user \(user), \(requests) requests, \(tenths / 10).\(tenths % 10) s; \(reason)"
        logger.info("\(line)")
    }

    /// Stops accepting, closes every connection (unfinished uploads are discarded) and waits until they are done.
    public func shutdown() async {
        let (server, task, connections) = state.withLock { s -> ((any Channel)?, Task<Void, Never>?, [any Channel]) in
            s.stopped = true
            s.started = true
            return (s.serverChannel, s.acceptTask, Array(s.connections.values))
        }
        try? await server?.close()
        for channel in connections { channel.close(promise: nil) }
        await task?.value
        try? await services.pool.shutdownGracefully()
        logger.info("node \(configuration.name) stopped")
    }

    /// "HOST:PORT" ("[HOST]:PORT" for IPv6) of a socket address.
    public static func describe(_ address: SocketAddress) -> String {
        let host = address.ipAddress ?? "?"
        let port = address.port.map(String.init) ?? "?"
        return host.contains(":") ? "[\(host)]:\(port)" : "\(host):\(port)"
    }

    /// Waits until the node has stopped (after `shutdown()`, or if the listener fails).
    public func waitUntilStopped() async {
        let task = state.withLock { $0.acceptTask }
        await task?.value
    }
}
