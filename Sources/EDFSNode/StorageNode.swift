#if canImport(Glibc)
import Glibc
#elseif canImport(Darwin)
import Darwin
#endif
import EDFSCrypto
import EDFSFormat
import Logging
import EDFSTransport
import NIOCore
import NIOPosix
import NIOSSL

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
    /// A local socket was handed to a node after `shutdown()`.
    case stopped
    /// A local socket could not be adopted.
    case localSocket(String)

    public var description: String {
        switch self {
        case let .tls(why): return "TLS setup failed: \(why)"
        case let .store(error): return "data directory: \(error)"
        case let .bind(why): return "cannot listen: \(why)"
        case .alreadyStarted: return "the node was already started"
        case .stopped: return "the node was stopped"
        case let .localSocket(why): return "cannot serve the local socket: \(why)"
        }
    }
}

/// A storage node: a TLS 1.3 listener in front of a durable per-user object store (DESIGN.md §4,
/// docs/PROTOCOL.md). `start()` binds and serves in the background (and the metrics endpoint, when
/// `metricsListen` asks for one); `shutdown()` stops accepting, closes every connection (discarding unfinished
/// uploads) and waits until all is quiet. For tests and development,
/// `serveLocal(connectedSocket:)` serves one connection over a local socket without TLS (the in-process seam).
public final class StorageNode: Sendable {
    /// Threads of the pool that runs the node's blocking file work (opens, writes, fsyncs, reads). Most of their time
    /// is spent waiting for the disk (an fsync: 0.2–0.5 ms), not on a core, and a writer waiting for a grouped folder
    /// flush (`FolderFlusher`) holds its thread: with 4, a fifth small request queued behind four fsyncs and a group
    /// held at most four writers. Memory is not bounded by this count (GET blocks come from the read budget, uploads
    /// from the connections' inbound buffers); a thread's stack is mapped, touched only as used.
    static let blockingThreads = 16

    public let configuration: NodeConfiguration
    /// The node's object files (inspection).
    public let store: ObjectStore
    /// The node's manifests, keyslots and verifiers.
    public let metadata: MetadataStore
    /// Checks every stored file of the node (sharing the node's per-user locks, so it is safe beside requests).
    public var scrubber: Scrubber { Scrubber(metadata: metadata) }
    /// The last periodic scrub's report (`ScrubInterval:`), nil until one has finished.
    public var lastScrub: ScrubReport? { services.scrubRecord.report }
    /// How many periodic scrubs have finished since the node started.
    public var scrubsCompleted: Int { services.scrubRecord.count }
    /// The node's metrics (its own registry: nodes in one process never share counts).
    public var metrics: NodeMetrics { services.metrics }
    /// What every connection's session shares (internal, not private: tests reach its blocking pool).
    let services: NodeServices
    /// The Prometheus endpoint, when `configuration.metricsListen` asks for one.
    private let metricsEndpoint: MetricsEndpoint?
    /// The periodic scrub, when `configuration.scrubInterval` asks for one.
    private let periodicScrub: PeriodicScrub?
    /// Held shared while the node runs, so that an offline `edfs node scrub` of the same folder refuses.
    private let folderLock: DataFolderLock
    private let group: any EventLoopGroup
    /// Nil only for a node made with `init(inProcess:)`, which never listens.
    private let sslContext: NIOSSLContext?
    private let logger: Logger

    private struct RunState {
        var started = false
        var stopped = false
        var serverChannel: (any Channel)?
        var acceptTask: Task<Void, Never>?
        var connections: [ObjectIdentifier: any Channel] = [:]
        var boundAddress: SocketAddress?
        var metricsAddress: SocketAddress?
        /// Tasks serving local-socket connections, by a counter.
        var localTasks: [Int: Task<Void, Never>] = [:]
        var nextLocal = 0
    }

    private let state = PthreadMutex(RunState())

    /// Loads the certificate and key (checking the certificate was issued by the CA), opens the store and removes
    /// temporary files a crash left behind. Does not listen yet.
    public convenience init(configuration: NodeConfiguration, eventLoopGroup: (any EventLoopGroup)? = nil,
                            logger: Logger = Logger(label: "edfs.node")) throws(NodeStartError) {
        let sslContext: NIOSSLContext
        let certificateHash: [UInt8]
        do {
            try DevelopmentPKI.verifyIssued(certificatePath: configuration.certificateFile,
                                            caCertificatePath: configuration.caFile)
            let chain = try NIOSSLCertificate.fromPEMFile(configuration.certificateFile)
            // RFC 5929 tls-server-end-point: the hash of the leaf certificate, the first of the chain.
            guard let leaf = chain.first else { throw NodeStartError.tls("no certificate in the file") }
            certificateHash = Digest.sha256(try leaf.toDERBytes())
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
        try self.init(configuration: configuration, sslContext: sslContext, certificateHash: certificateHash,
                      eventLoopGroup: eventLoopGroup, logger: logger)
    }

    /// A node for in-process use only (tests, development): no TLS material is read (the configuration's
    /// certificate files are ignored) and `start()` refuses, so it serves only `serveLocal(connectedSocket:)`.
    /// Opens the store and removes temporary files a crash left behind.
    public convenience init(inProcess configuration: NodeConfiguration, eventLoopGroup: (any EventLoopGroup)? = nil,
                            logger: Logger = Logger(label: "edfs.node")) throws(NodeStartError) {
        try self.init(configuration: configuration, sslContext: nil, certificateHash: nil, eventLoopGroup: eventLoopGroup,
                      logger: logger)
    }

    private init(configuration: NodeConfiguration, sslContext: NIOSSLContext?, certificateHash: [UInt8]?,
                 eventLoopGroup: (any EventLoopGroup)?, logger: Logger) throws(NodeStartError) {
        self.configuration = configuration
        self.group = eventLoopGroup ?? MultiThreadedEventLoopGroup.singleton
        self.logger = logger
        self.sslContext = sslContext
        do throws(StoreError) {
            store = try ObjectStore(root: configuration.dataDirectory, blockSize: configuration.blockSize,
                                    directIO: configuration.directIO)
            guard let lock = try DataFolderLock.acquire(root: configuration.dataDirectory, exclusive: false) else {
                throw StoreError.io("lock data folder", "an offline scrub holds it")
            }
            folderLock = lock
            let removed = try store.removeTemporaries()
            if removed > 0 { logger.notice("removed \(removed) temporary files left by an earlier run") }
        } catch {
            throw .store(error)
        }
        let metadata = MetadataStore(objects: store)
        ConnectionAdmission.limitHeapRetention()
        self.metadata = metadata
        let scrubRecord = ScrubRecord()
        let metrics = NodeMetrics()
        if let interval = configuration.scrubInterval {
            var options = ScrubOptions.full(gracePeriod: configuration.orphanGracePeriod)
            // A temporary file is an upload in progress while its connection lives: leave it for twice the idle time.
            options.temporaryGracePeriod = max(configuration.orphanGracePeriod, configuration.limits.idleTimeout * 2)
            periodicScrub = PeriodicScrub(scrubber: Scrubber(metadata: metadata), options: options, interval: interval,
                                          record: scrubRecord, metrics: metrics, logger: logger)
        } else {
            periodicScrub = nil
        }
        let pool = NIOThreadPool(numberOfThreads: Self.blockingThreads)
        pool.start()
        let services = NodeServices(
            configuration: configuration, store: store, metadata: metadata,
            loginGuard: LoginGuard(verifiers: configuration.loginVerifiers, throttle: configuration.limits.loginThrottle,
                                   legacyMD5Logins: configuration.legacyMD5Logins,
                                   mockIterations: configuration.scramMockIterations,
                                   storedVerifier: { metadata.verifier(user: $0) }),
            pool: pool, readBudget: AsyncAllowance(max(configuration.limits.readBufferBudget, configuration.blockSize)),
            admission: ConnectionAdmission(limits: configuration.limits),
            logger: logger, started: .now, certificateHash: certificateHash, scrubRecord: scrubRecord,
            metrics: metrics)
        self.services = services
        if configuration.metricsListen != nil {
            metricsEndpoint = MetricsEndpoint(
                scrape: MetricsScrape(services: services, storageRefresh: configuration.metricsStorageRefresh),
                requestTimeout: configuration.metricsRequestTimeout, logger: logger)
        } else {
            metricsEndpoint = nil
        }
    }

    /// The address the node listens on, once started.
    public var boundAddress: SocketAddress? { state.withLock { $0.boundAddress } }
    /// The address the metrics endpoint listens on, once started (nil without `MetricsListen:`).
    public var metricsAddress: SocketAddress? { state.withLock { $0.metricsAddress } }

    /// Binds the listen address and starts serving; returns the bound address (the real port when 0 was asked).
    /// A node that cannot bind is shut down before this throws: its thread pool stops and its data folder is free.
    @discardableResult
    public func start() async throws(NodeStartError) -> SocketAddress {
        let fresh = state.withLock { s -> Bool in
            defer { s.started = true }
            return !s.started
        }
        guard fresh else { throw .alreadyStarted }
        guard let sslContext else {
            throw .tls("node \(configuration.name) was made for in-process use: it has no certificate and never listens")
        }
        let limits = configuration.limits
        let metrics = services.metrics
        let server: NIOAsyncChannel<NodeChannel, Never>
        do {
            server = try await ServerBootstrap(group: group)
                .serverChannelOption(.backlog, value: 256)
                .serverChannelOption(.socketOption(.so_reuseaddr), value: 1)
                .childChannelOption(.socketOption(.tcp_nodelay), value: 1)
                .childChannelOption(.writeBufferWaterMark, value: NodeChannelPipeline.writeBufferWaterMark)
                .childChannelOption(.recvAllocator, value: NodeChannelPipeline.recvAllocator)
                .bind(host: configuration.host, port: configuration.port) { channel in
                    channel.eventLoop.makeCompletedFuture {
                        try NodeChannelPipeline.configure(channel, limits: limits, tls: sslContext, metrics: metrics)
                    }
                }
        } catch {
            // Nothing will serve: release the thread pool and the data folder now, not at exit (found under ASan: the
            // pool's threads outlived a node that could not bind, and LeakSanitizer's report replaced its error line).
            await shutdown()
            throw BindFailure.error(error, host: configuration.host, port: configuration.port, what: "",
                                    otherPort: "give this node another port (the Server line of its config; "
                                        + "edfs cluster up --base-port)", setting: "")
        }
        guard let address = server.channel.localAddress else {
            server.channel.close(promise: nil)
            await shutdown()
            throw .bind("no local address")
        }
        var metricsAddress: SocketAddress?
        if let endpoint = metricsEndpoint, let listen = configuration.metricsListen {
            do throws(NodeStartError) {
                metricsAddress = try await endpoint.start(host: listen.host, port: listen.port, group: group)
            } catch {
                try? await server.channel.close()
                throw error
            }
        }
        let task = Task { await acceptLoop(server) }
        periodicScrub?.startIfNeeded()
        state.withLock { s in
            s.serverChannel = server.channel
            s.acceptTask = task
            s.boundAddress = address
            s.metricsAddress = metricsAddress
        }
        logger.info("node \(configuration.name) listening on \(address.hostPortText)")
        logger.info("\(configuration.startupSummary(address: address.hostPortText, metrics: metricsAddress?.hostPortText))")
        logger.debug("node \(configuration.name) users: \(configuration.userNames.joined(separator: ", "))")
        return address
    }

    private func acceptLoop(_ server: NIOAsyncChannel<NodeChannel, Never>) async {
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

    /// Serves one connection: admits it to the unauthenticated pool (displacing one if it is full; the logged-in
    /// caps apply at LOGIN, see `ConnectionAdmission`), runs its session, and trims the heap after a burst of closes.
    private func serve(_ node: NodeChannel) async {
        let connection = node.frames
        let channel = connection.channel
        let key = ObjectIdentifier(channel)
        let peer = channel.remoteAddress?.hostPortText ?? "unknown"
        let admitted = state.withLock { s -> Bool in
            guard !s.stopped else { return false }
            s.connections[key] = channel
            return true
        }
        guard admitted else {
            // Stopping: close it through executeThenClose, which finishes its writer (a NIOAsyncChannel dropped with an
            // unfinished writer traps: "Deinited NIOAsyncWriter without calling finish()", seen under ASan).
            try? await connection.executeThenClose { _, outbound in outbound.finish() }
            return
        }
        services.metrics.connectionsAccepted.increment()
        if let displaced = services.admission.admit(key, channel: channel, address: channel.remoteAddress?.ipAddress) {
            services.metrics.connectionsDisplaced.increment()
            let from = displaced.remoteAddress?.hostPortText ?? "unknown"
            let cap = configuration.limits.maxUnauthenticatedConnections
            logger.notice("closed a connection from \(from) that had not logged in: more than \(cap) were waiting")
            displaced.close(promise: nil)
        }
        defer {
            _ = state.withLock { $0.connections.removeValue(forKey: key) }
            if services.admission.remove(key) {
                services.pool.submit { work in
                    if case .active = work { ConnectionAdmission.trimHeap() }
                }
            }
        }
        let began = ContinuousClock.now
        var reason = "closed"
        var session: NodeSession?
        do {
            try await connection.executeThenClose { inbound, outbound in
                let current = NodeSession(services: services, channel: channel, outbound: outbound,
                                          writability: node.writability)
                session = current
                reason = await current.run(inbound: inbound)
            }
        } catch {
            reason = "failed: \(PeerFailureText.describe(error))"
        }
        let seconds = Double((ContinuousClock.now - began).components.attoseconds) / 1e18
            + Double((ContinuousClock.now - began).components.seconds)
        let user = session?.table.user ?? "-"
        let requests = session?.table.requestCount ?? 0
        let tenths = Int((seconds * 10).rounded())
        let line = "connection from \(peer): user \(user), \(requests) request\(requests == 1 ? "" : "s"), \(tenths / 10).\(tenths % 10) s; \(reason)"
        logger.info("\(line)")
    }

    // MARK: The in-process seam (tests, development)

    /// Serves one connection over `descriptor`, an already-connected local stream socket (one end of
    /// `socketpair(AF_UNIX, SOCK_STREAM)`), exactly as the listener serves a TCP connection but without TLS: same
    /// handlers and limits, same admission (connection cap), same session. A test and development path only: the
    /// TCP listener always requires TLS. Returns once the connection is being served in the background; the node
    /// owns the descriptor from then on (it is closed when the connection ends or the node shuts down); after
    /// a `.localSocket` error the caller still owns it.
    public func serveLocal(connectedSocket descriptor: Int32) async throws(NodeStartError) {
        guard !state.withLock({ $0.stopped }) else { throw .stopped }
        periodicScrub?.startIfNeeded()
        let limits = configuration.limits
        let metrics = services.metrics
        let connection: NodeChannel
        do {
            connection = try await ClientBootstrap(group: group)
                .channelOption(.writeBufferWaterMark, value: NodeChannelPipeline.writeBufferWaterMark)
                .channelOption(.recvAllocator, value: NodeChannelPipeline.recvAllocator)
                .withConnectedSocket(descriptor) { channel in
                    channel.eventLoop.makeCompletedFuture {
                        try NodeChannelPipeline.configure(channel, limits: limits, tls: nil, metrics: metrics)
                    }
                }
        } catch {
            throw .localSocket("\(error)")
        }
        let admitted = state.withLock { s -> Bool in
            guard !s.stopped else { return false }
            let key = s.nextLocal
            s.nextLocal += 1
            s.localTasks[key] = Task {
                await self.serve(connection)
                _ = self.state.withLock { $0.localTasks.removeValue(forKey: key) }
            }
            return true
        }
        guard admitted else {
            try? await connection.frames.channel.close()
            throw .stopped
        }
    }

    /// Makes a `socketpair(AF_UNIX, SOCK_STREAM)`, serves one end with `serveLocal(connectedSocket:)` and returns
    /// the other, for `NodeConnection.connect(localDescriptor:)` (which then owns it). Test and development path.
    public func openLocalSocket() async throws(NodeStartError) -> Int32 {
        var ends: [Int32] = [-1, -1]
        #if canImport(Glibc)
        let type = Int32(SOCK_STREAM.rawValue) | Int32(SOCK_CLOEXEC.rawValue)
        #else
        let type = SOCK_STREAM
        #endif
        guard socketpair(AF_UNIX, type, 0, &ends) == 0 else {
            throw .localSocket("socketpair failed: errno \(errno)")
        }
        do throws(NodeStartError) {
            try await serveLocal(connectedSocket: ends[0])
        } catch {
            if case .localSocket = error { close(ends[0]) }
            close(ends[1])
            throw error
        }
        return ends[1]
    }

    /// Stops accepting, closes every connection (unfinished uploads are discarded) and waits until they are done.
    public func shutdown() async {
        let (server, task, connections, local) = state.withLock { s in
            s.stopped = true
            s.started = true
            return (s.serverChannel, s.acceptTask, Array(s.connections.values), Array(s.localTasks.values))
        }
        try? await server?.close()
        await metricsEndpoint?.stop()
        for channel in connections { channel.close(promise: nil) }
        await task?.value
        for serving in local { await serving.value }
        await periodicScrub?.stop()
        try? await services.pool.shutdownGracefully()
        folderLock.release()
        logger.info("node \(configuration.name) stopped")
    }

    /// Waits until the node has stopped (after `shutdown()`, or if the listener fails).
    public func waitUntilStopped() async {
        let task = state.withLock { $0.acceptTask }
        await task?.value
    }
}
