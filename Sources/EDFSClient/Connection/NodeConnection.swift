import EDFSCrypto
import EDFSFormat
import EDFSTransport
import Logging
import NIOCore
import NIOPosix
import NIOSSL

/// One connection to one storage node, over TLS (or, in tests, a local socket) (docs/PROTOCOL.md): HELLO on connect, LOGIN, then any number of requests
/// in flight at once, multiplexed by request id. PUTs stream from chunks the caller writes (waiting while the
/// connection is behind); GETs deliver chunks as they arrive, with at most `Options.getWindow` bytes buffered each.
/// Node refusals throw `NodeLinkError`; connection failures throw `NodeConnectionError`.
public final class NodeConnection: NodeLink {
    /// Connection settings.
    public struct Options: Sendable {
        /// Largest write budget accepted (bytes queued but not yet written).
        static let maxWriteBudget = 64 << 20

        public var connectTimeout: Duration = .seconds(5)
        /// Time for TLS and HELLO to complete.
        public var handshakeTimeout: Duration = .seconds(10)
        /// Bytes a GET may have in flight towards us (per GET).
        public var getWindow: Int = 8 << 20
        /// Bytes queued for writing before writers wait.
        public var writeBudget: Int = 4 << 20
        /// Client name sent in HELLO.
        public var clientName = "edfs"
        /// Event loops to use (default: NIO's shared group).
        public var eventLoopGroup: (any EventLoopGroup)?
        /// Whether a node may ask for a legacy MD5 login (for a user with only an MD5 verifier there).
        public var allowLegacyMD5 = true

        public init() {}
    }

    /// The node's name from its HELLO.
    public let nodeName: String
    /// The node's limits from its HELLO.
    public let limits: WireNodeLimits
    /// The protocol version in use.
    public let protocolVersion: UInt16
    /// "HOST:PORT" as dialled (the label given, for a local socket).
    public let address: String
    let core: NodeConnectionCore
    let options: Options
    private let proven = PthreadMutex<LoginVerifier?>(nil)
    /// False once the node answered PUT_MANIFESTS `unsupported` (it predates it): single PUT_MANIFESTs from then on.
    private let bulkManifestWrites = PthreadMutex(true)

    /// What this connection's login proved to the node: the MD5 digest, or the SCRAM verifier recomputed from the
    /// SaltedPassword (so `edfs passwd` can write it back as a probe). Nil before a login.
    public var provenVerifier: LoginVerifier? { proven.withLock { $0 } }

    func setProvenVerifier(_ verifier: LoginVerifier) { proven.withLock { $0 = verifier } }

    private init(nodeName: String, limits: WireNodeLimits, protocolVersion: UInt16, address: String,
                 core: NodeConnectionCore, options: Options) {
        self.nodeName = nodeName
        self.limits = limits
        self.protocolVersion = protocolVersion
        self.address = address
        self.core = core
        self.options = options
    }

    /// Connects over TLS 1.3 (verifying the cluster CA and `host` against the certificate) and says HELLO.
    public static func connect(host: String, port: Int, trust: NodeTLSTrust,
                               options: Options = Options()) async throws -> NodeConnection {
        let address = HostPort.text(host: host, port: port)
        let isIPAddress = (try? SocketAddress(ipAddress: host, port: 0)) != nil
        return try await establish(address: address, options: options) { bootstrap, addFrameHandlers in
            try await bootstrap
                .connectTimeout(TimeAmount(options.connectTimeout))
                .channelOption(.socketOption(.tcp_nodelay), value: 1)
                .channelInitializer { channel in
                    channel.eventLoop.makeCompletedFuture {
                        try channel.pipeline.syncOperations.addHandler(
                            NIOSSLClientHandler(context: trust.context, serverHostname: isIPAddress ? nil : host))
                        try addFrameHandlers(channel)
                    }
                }
                .connect(host: host, port: port).get()
        }
    }

    /// Connects over `descriptor`, an already-connected local stream socket (one end of
    /// `socketpair(AF_UNIX, SOCK_STREAM)` whose other end a node serves with `StorageNode.serveLocal`), without TLS,
    /// and says HELLO: the in-process seam for tests and development. `label` stands for the address in errors.
    /// The connection owns the descriptor from then on, unless this throws `connectFailed`.
    public static func connect(localDescriptor descriptor: Int32, label: String = "local socket",
                               options: Options = Options()) async throws -> NodeConnection {
        try await establish(address: label, options: options) { bootstrap, addFrameHandlers in
            try await bootstrap
                .channelInitializer { channel in
                    channel.eventLoop.makeCompletedFuture { try addFrameHandlers(channel) }
                }
                .withConnectedSocket(descriptor).get()
        }
    }

    /// The common part of every connect: the router, the channel options and frame handlers (`open` adds the
    /// transport: TCP with TLS, or a local socket), then HELLO within `handshakeTimeout`.
    private static func establish(
        address: String, options: Options,
        open: (ClientBootstrap, _ addFrameHandlers: @escaping @Sendable (any Channel) throws -> Void) async throws
            -> any Channel
    ) async throws -> NodeConnection {
        let router = NodeConnectionRouter(label: address, writeBudget: AsyncAllowance(
            min(max(options.writeBudget, WireProtocol.maxDataPayload + WireProtocol.headerLength), Options.maxWriteBudget)))
        let group = options.eventLoopGroup ?? MultiThreadedEventLoopGroup.singleton
        let bootstrap = ClientBootstrap(group: group)
            .channelOption(.writeBufferWaterMark, value: .init(low: 512 << 10, high: 2 << 20))
            .channelOption(.recvAllocator, value: AdaptiveRecvByteBufferAllocator(
                minimum: 1024, initial: 64 << 10, maximum: 1 << 20))
        let channel: any Channel
        let recycler = PayloadRecycler()
        do {
            channel = try await open(bootstrap) { channel in
                let sync = channel.pipeline.syncOperations
                try sync.addHandler(WireFrameDecoder(maxLengthField: 2 * WireProtocol.defaultMaxFrameLength,
                                                     recycler: recycler))
                try sync.addHandler(WireFrameEncoder())
                try sync.addHandler(ClientFrameRouterHandler(router: router))
            }
        } catch {
            throw NodeConnectionError.connectFailed(
                node: address, reason: ConnectionFailureText.connect(error, address: address,
                                                                timeout: Double(options.connectTimeout.components.seconds)))
        }
        let core = NodeConnectionCore(channel: channel, router: router, recycler: recycler)
        let timeout = channel.eventLoop.scheduleTask(in: TimeAmount(options.handshakeTimeout)) {
            router.failAll(.closed(node: address, reason: "no answer to HELLO within \(options.handshakeTimeout)"))
            channel.close(promise: nil)
        }
        defer { timeout.cancel() }
        do {
            let reply = try await core.call(.hello(versions: WireProtocol.supportedVersions, client: options.clientName))
            guard case let .hello(version, nodeName, limits) = reply,
                  WireProtocol.supportedVersions.contains(version) else {
                throw NodeConnectionError.protocolViolation(node: address, reason: "bad HELLO reply")
            }
            core.setLimits(limits)
            router.allowRequests(limits.maxStreams)
            router.setLabel("\(nodeName) (\(address))")
            ClientLog.logger.debug("\(nodeName) (\(address)): connected, protocol version \(version)")
            return NodeConnection(nodeName: nodeName, limits: limits, protocolVersion: version, address: address,
                                  core: core, options: options)
        } catch {
            try? await channel.close()
            throw error
        }
    }

    /// The legacy login digest: MD5 of the password (the seed's `Password:` lines hold its hex).
    public static func legacyPasswordDigest(_ password: SecureBytes) -> [UInt8] {
        password.withUnsafeBytes { Digest.md5($0) }
    }

    /// Logs in with the legacy MD5 method. A wrong password or unknown user throws
    /// `NodeLinkError.authenticationFailed`; too many failures `NodeLinkError.throttled`.
    public func login(user: String, passwordDigest: [UInt8]) async throws {
        _ = try await core.call(.login(method: WireRequest.loginMethodMD5, user: user, proof: Hex.encode(passwordDigest)))
        setProvenVerifier(.md5(passwordDigest))
    }

    /// Connects and logs in; closes the connection if the login fails.
    public static func open(host: String, port: Int, trust: NodeTLSTrust, user: String, passwordDigest: [UInt8],
                            options: Options = Options()) async throws -> NodeConnection {
        try await connect(host: host, port: port, trust: trust, options: options)
            .loggedIn(user: user, passwordDigest: passwordDigest)
    }

    /// Connects over a local socket (`connect(localDescriptor:label:options:)`) and logs in; closes the connection
    /// if the login fails.
    public static func open(localDescriptor descriptor: Int32, label: String = "local socket", user: String,
                            passwordDigest: [UInt8], options: Options = Options()) async throws -> NodeConnection {
        try await connect(localDescriptor: descriptor, label: label, options: options)
            .loggedIn(user: user, passwordDigest: passwordDigest)
    }

    /// Logs in and returns the connection; closes it if the login fails.
    private func loggedIn(user: String, passwordDigest: [UInt8]) async throws -> NodeConnection {
        do {
            try await login(user: user, passwordDigest: passwordDigest)
        } catch {
            await close()
            throw error
        }
        return self
    }

    /// True once the connection has ended (it cannot be used again).
    public var isClosed: Bool { core.router.failure != nil }

    /// Closes the connection; requests in flight fail.
    public func close() async {
        try? await core.channel.close()
    }

    // MARK: Objects

    /// Starts a PUT of exactly `length` bytes.
    public func beginPut(object name: String, length: UInt64) async throws -> any ObjectUpload {
        try await startPut(object: name, length: length)
    }

    /// Starts a PUT of exactly `length` bytes (the concrete type).
    public func startPut(object name: String, length: UInt64) async throws -> NodeConnectionUpload {
        let promise = core.channel.eventLoop.makePromise(of: WireFrame.self)
        let id: UInt32
        do {
            id = try await core.start(.putObject(id: name, length: length)) { _ in .reply(promise) }
        } catch {
            promise.fail(error)
            throw error
        }
        return NodeConnectionUpload(objectID: name, length: length, id: id, core: core, reply: promise.futureResult)
    }

    /// Stores `bytes` as object `name` and waits for the durable acknowledgement.
    public func putObject(_ name: String, bytes: [UInt8]) async throws {
        let upload = try await startPut(object: name, length: UInt64(bytes.count))
        if !bytes.isEmpty { try await upload.write(bytes: bytes) }
        try await upload.finish()
    }

    /// Streams `length` bytes (nil: to the end) of object `name` from `offset`.
    public func get(object name: String, offset: UInt64, length: UInt64?) async throws -> any ObjectDownload {
        try await startGet(object: name, offset: offset, length: length)
    }

    /// Streams part of an object (the concrete type).
    public func startGet(object name: String, offset: UInt64 = 0, length: UInt64? = nil) async throws -> NodeConnectionDownload {
        let header = core.channel.eventLoop.makePromise(of: DownloadStream.Header.self)
        let window = max(1, options.getWindow)
        let stream = DownloadStream(header: header, window: window)
        let request = WireRequest.getObject(id: name, offset: offset, length: length ?? WireProtocol.toEnd,
                                            window: UInt32(clamping: window))
        let id: UInt32
        do {
            id = try await core.start(request) { _ in .download(stream) }
        } catch {
            stream.fail(error)
            throw error
        }
        let core = self.core
        let reply = try await withTaskCancellationHandler {
            try await header.futureResult.get()
        } onCancel: {
            if stream.cancel() {
                core.router.remove(id)
                core.sendControl(.cancel, id: id, payload: [])
            }
        }
        return NodeConnectionDownload(objectLength: reply.objectLength, length: reply.sendLength, id: id, stream: stream,
                                      core: core)
    }

    /// The whole object (for small objects and tests).
    public func getObject(_ name: String, offset: UInt64 = 0, length: UInt64? = nil) async throws -> [UInt8] {
        try await startGet(object: name, offset: offset, length: length).collect()
    }

    /// What a node knows about a stored object.
    public struct ObjectStat: Equatable, Sendable {
        public let length: UInt64
        public let blockSize: Int
        public let checksumState: WireChecksumState
    }

    /// Length and checksum state of an object; `verify` makes the node read and check every block.
    public func stat(object name: String, verify: Bool = false) async throws -> ObjectStat {
        guard case let .statObject(length, blockSize, state) = try await core.call(.statObject(id: name, verify: verify)) else {
            throw NodeConnectionError.protocolViolation(node: core.router.label, reason: "bad STAT_OBJECT_OK")
        }
        return ObjectStat(length: length, blockSize: Int(blockSize), checksumState: state)
    }

    /// Removes an object; `NodeLinkError.notFound` if there is none.
    public func delete(object name: String) async throws {
        _ = try await core.call(.deleteObject(id: name))
    }

    /// One page of a listing: names after `startAfter` in byte order, at most `limit`.
    public func list(_ kind: WireListKind, startAfter: String = "", limit: Int = WireProtocol.maxListLimit) async throws
        -> (entries: [WireListEntry], more: Bool) {
        let limit = UInt16(clamping: min(max(1, limit), WireProtocol.maxListLimit))
        guard case let .list(entries, more) = try await core.call(.list(kind: kind, startAfter: startAfter, limit: limit)) else {
            throw NodeConnectionError.protocolViolation(node: core.router.label, reason: "bad LIST_OK")
        }
        return (entries, more)
    }

    /// Every entry of a listing, page by page.
    public func listAll(_ kind: WireListKind) async throws -> [WireListEntry] {
        var all: [WireListEntry] = []
        var after = ""
        while true {
            let page = try await list(kind, startAfter: after)
            all += page.entries
            guard page.more, let last = page.entries.last else { return all }
            after = last.name
        }
    }

    /// Every object of the user on this node with its length (`UInt64.max` where the stored footer is corrupt).
    public func listObjects() async throws -> [String: UInt64] {
        Dictionary(try await listAll(.objects).map { ($0.name, $0.length) }, uniquingKeysWith: { first, _ in first })
    }

    /// Every manifest id of the user on this node with its byte count.
    public func listManifests() async throws -> [String: UInt64] {
        Dictionary(try await listAll(.manifests).map { ($0.name, $0.length) }, uniquingKeysWith: { first, _ in first })
    }

    // MARK: Manifests and keyslot

    /// The manifest stored under `id`, or nil when there is none.
    public func getManifest(_ id: String) async throws -> [UInt8]? {
        do {
            guard case let .getManifest(bytes) = try await core.call(.getManifest(id: id)) else { return nil }
            return bytes
        } catch NodeLinkError.notFound {
            return nil
        }
    }

    /// The manifests stored under `ids`: batches of `WireProtocol.maxManifestBatch`, each answered in as many frames
    /// as its manifests need.
    public func getManifests(_ ids: [String]) async throws -> [String: WireManifestAnswer] {
        var answers = [String: WireManifestAnswer]()
        var pending = ids[...]
        while !pending.isEmpty {
            let batch = Array(pending.prefix(WireProtocol.maxManifestBatch))
            guard case let .getManifests(got) = try await core.call(.getManifests(ids: batch)),
                  !got.isEmpty, got.count <= batch.count else {
                throw NodeConnectionError.protocolViolation(node: core.router.label, reason: "bad GET_MANIFESTS_OK")
            }
            for (id, answer) in zip(batch, got) { answers[id] = answer }
            pending = pending.dropFirst(got.count)
        }
        return answers
    }

    /// Stores a manifest; `NodeLinkError.stale` unless its version is newer than the stored one.
    public func putManifest(_ id: String, bytes: [UInt8]) async throws {
        _ = try await core.call(.putManifest(id: id, bytes: bytes))
    }

    /// Stores several manifests with PUT_MANIFESTS, as many per request as `WireProtocol.maxManifestPutBatch` and the
    /// node's frame length allow; each item gets the node's own answer for it. A node that predates PUT_MANIFESTS
    /// (it answers `unsupported`) gets one PUT_MANIFEST per item, now and for the rest of this connection. A reply
    /// with another number of answers than items fails the whole call (an answer is only ever taken for the item at
    /// its own position), as does a request that fails as a whole.
    public func putManifests(_ items: [WireManifestWrite]) async throws -> [(any Error)?] {
        var outcomes = [(any Error)?]()
        outcomes.reserveCapacity(items.count)
        for batch in Self.manifestBatches(items, maxPayload: Int(limits.maxFrameLength) - WireProtocol.lengthCountedHeaderBytes) {
            guard bulkManifestWrites.withLock({ $0 }) else {
                outcomes += await putManifestsOneByOne(batch)
                continue
            }
            do {
                guard case let .putManifests(results) = try await core.call(.putManifests(items: batch)),
                      results.count == batch.count else {
                    throw NodeConnectionError.protocolViolation(node: core.router.label, reason: "bad PUT_MANIFESTS_OK")
                }
                outcomes += results.map { $0.map { NodeLinkError($0) } }
            } catch let NodeLinkError.refused(code, _) where code == .unsupported {
                bulkManifestWrites.withLock { $0 = false }
                outcomes += await putManifestsOneByOne(batch)
            }
        }
        return outcomes
    }

    /// `items` cut into PUT_MANIFESTS requests: at most `maxManifestPutBatch` each, and a payload of at most
    /// `maxPayload` bytes unless one item alone is larger (it goes alone; the node refuses it as a single
    /// PUT_MANIFEST would be refused).
    public static func manifestBatches(_ items: [WireManifestWrite], maxPayload: Int) -> [[WireManifestWrite]] {
        var batches = [[WireManifestWrite]]()
        var current = [WireManifestWrite]()
        var size = 2
        for item in items {
            let cost = 2 + item.id.utf8.count + 4 + item.bytes.count
            if !current.isEmpty, current.count == WireProtocol.maxManifestPutBatch || size + cost > maxPayload {
                batches.append(current)
                current = []
                size = 2
            }
            current.append(item)
            size += cost
        }
        if !current.isEmpty { batches.append(current) }
        return batches
    }

    /// Removes a manifest if its stored version is at most `maxVersion` (`UInt64.max`: unconditionally).
    public func deleteManifest(_ id: String, maxVersion: UInt64) async throws {
        _ = try await core.call(.deleteManifest(id: id, ifVersionAtMost: maxVersion))
    }

    /// The user's keyslot, or nil when there is none.
    public func getKeyslot() async throws -> [UInt8]? {
        do {
            guard case let .getKeyslot(bytes) = try await core.call(.getKeyslot) else { return nil }
            return bytes
        } catch NodeLinkError.notFound {
            return nil
        }
    }

    /// Stores the keyslot; `NodeLinkError.stale` unless (epoch, revision) is newer, or equal with the same bytes.
    public func putKeyslot(_ bytes: [UInt8]) async throws {
        _ = try await core.call(.putKeyslot(bytes: bytes))
    }

    /// The node's last accepted keyslots for this user, newest first (at most 8; GET_KEYSLOT_HISTORY).
    public func keyslotHistory() async throws -> [[UInt8]] {
        guard case let .getKeyslotHistory(entries) = try await core.call(.getKeyslotHistory) else {
            throw NodeConnectionError.protocolViolation(node: core.router.label, reason: "bad GET_KEYSLOT_HISTORY_OK")
        }
        return entries
    }

    // MARK: Node

    /// Name, free space and the caller's object and manifest counts.
    public func status() async throws -> WireNodeStatus {
        guard case let .status(status) = try await core.call(.status) else {
            throw NodeConnectionError.protocolViolation(node: core.router.label, reason: "bad STATUS_OK")
        }
        return status
    }
}
