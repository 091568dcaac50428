import EDFSClient
import EDFSCrypto
import EDFSFormat
import EDFSNode
import EDFSTestSupport
import Foundation
import NIOCore
import NIOPosix
import NIOSSL
import Synchronization
import Testing

/// The resident memory (VmRSS of /proc/PID/status) of process `pid`, in MiB; 0 where there is none.
func residentMiB(pid: Int32) -> Int {
    guard let text = try? String(contentsOfFile: "/proc/\(pid)/status", encoding: .utf8),
          let line = text.split(separator: "\n").first(where: { $0.hasPrefix("VmRSS:") }),
          let kib = Int(line.split(separator: " ").dropFirst().first ?? "") else { return 0 }
    return kib / 1024
}

/// One `edfs node` process (node DFS1, users of `testUsers` with MD5 lines, generated certificates) in a temporary
/// folder: its memory is its own, apart from the test process where other suites run at the same time.
final class SeparateNodeProcess {
    let directory: TemporaryDirectory
    let process: NodeProcess
    let trust: NodeTLSTrust
    var port: Int { process.port }
    var pid: Int32 { process.process.processIdentifier }
    var caFile: String { directory.path + "/Keys/ca.crt" }

    init(binary: String) throws {
        directory = try TemporaryDirectory()
        var config = "Keys: Keys\nServer DFS1 127.0.0.1:10001\n"
        for (user, password) in testUsers.sorted(by: { $0.key < $1.key }) {
            config += "Username: \(user)\nPassword: \(Hex.encode(md5(password)))\n"
        }
        try config.write(toFile: directory.path + "/dfs.conf", atomically: true, encoding: .utf8)
        try DevelopmentPKI.initialize(directory: directory.path + "/Keys", nodeNames: ["DFS1"], hosts: ["127.0.0.1"],
                                      force: false)
        process = try NodeProcess(binary: binary, config: directory.path + "/dfs.conf", name: "DFS1",
                                  data: directory.path + "/data", log: directory.path + "/node.log")
        trust = try NodeTLSTrust(caFile: directory.path + "/Keys/ca.crt")
    }

    func connect(_ user: String) async throws -> NodeConnection {
        let password = try #require(testUsers[user])
        return try await NodeConnection.open(host: "127.0.0.1", port: port, trust: trust, user: user,
                                             passwordDigest: md5(password), options: .forTests)
    }

    /// Stops the process (SIGTERM, then SIGKILL) and removes the folder.
    func stop() {
        process.signal(SIGTERM)
        if process.waitForExit() == nil {
            process.signal(SIGKILL)
            _ = process.waitForExit()
        }
        directory.remove()
    }
}

/// A TLS client that logs in, asks for GETs with the largest window and then stops reading its socket
/// (`autoRead` off): what it is sent stays in the kernel's buffers and the node's. Received bytes are only counted.
final class UnreadGetClient: Sendable {
    private final class Counter: ChannelInboundHandler, Sendable {
        typealias InboundIn = ByteBuffer
        let bytes = ManagedAtomicCounter()
        /// Set by `close()`: reading is allowed again.
        let closing = ManagedAtomicCounter()
        func channelRead(context: ChannelHandlerContext, data: NIOAny) {
            bytes.add(unwrapInboundIn(data).readableBytes)
            // Once data flows, stop reading: the rest stays in the kernel's buffers and the node's.
            if bytes.value >= 64 << 10, closing.value == 0 { context.channel.setOption(.autoRead, value: false).whenComplete { _ in } }
        }
        func errorCaught(context: ChannelHandlerContext, error: any Error) { context.close(promise: nil) }
    }

    let channel: any Channel
    private let counter: Counter

    private init(channel: any Channel, counter: Counter) {
        self.channel = channel
        self.counter = counter
    }

    var received: Int { counter.bytes.value }

    static func open(port: Int, caFile: String, user: String, object: String, gets: Int) async throws -> UnreadGetClient {
        var tls = TLSConfiguration.makeClientConfiguration()
        tls.minimumTLSVersion = .tlsv13
        tls.trustRoots = .certificates(try NIOSSLCertificate.fromPEMFile(caFile))
        let context = try NIOSSLContext(configuration: tls)
        let counter = Counter()
        let channel = try await ClientBootstrap(group: MultiThreadedEventLoopGroup.singleton)
            .channelInitializer { channel in
                channel.eventLoop.makeCompletedFuture {
                    try channel.pipeline.syncOperations.addHandler(NIOSSLClientHandler(context: context, serverHostname: nil))
                    try channel.pipeline.syncOperations.addHandler(counter)
                }
            }
            .connect(host: "127.0.0.1", port: port).get()
        let password = try #require(testUsers[user])
        var requests: [WireRequest] = [.hello(versions: [1], client: "flood"),
                                       .login(method: 1, user: user, proof: Hex.encode(md5(password)))]
        for _ in 0..<gets { requests.append(.getObject(id: object, offset: 0, length: UInt64.max, window: UInt32.max)) }
        var bytes: [UInt8] = []
        for (index, request) in requests.enumerated() {
            let payload = try request.encodePayload()
            bytes += WireFrameHeader(type: request.frameType, requestID: UInt32(index + 1), payloadLength: payload.count).encoded
            bytes += payload
        }
        try await channel.writeAndFlush(ByteBuffer(bytes: bytes))
        return UnreadGetClient(channel: channel, counter: counter)
    }

    /// Stops reading the socket.
    func stopReading() async throws { try await channel.setOption(.autoRead, value: false) }

    /// Closes; reads again first, since a TLS close waits for the peer's close_notify behind the unread data.
    func close() async {
        counter.closing.add(1)
        try? await channel.setOption(.autoRead, value: true)
        try? await channel.close()
    }
}

/// A counter several threads add to.
final class ManagedAtomicCounter: Sendable {
    private let state = PthreadMutex(0)
    func add(_ count: Int) { state.withLock { $0 += count } }
    var value: Int { state.withLock { $0 } }
}

/// Issue 11's floods against one node over real TLS on loopback: a good client of another user stays served.
@Suite(.serialized) struct DenialOfServiceTests {
    /// 200 TCP sockets that never speak and 200 that finish TLS but never log in.
    @Test(.timeLimit(.minutes(TestTime.isScaled ? 30 : 3))) func anUnauthenticatedFloodDoesNotKeepAGoodClientOut() async throws {
        try await withNode { node in
            var flood: [RawClient] = []
            for _ in 0..<200 { flood.append(try await RawClient.connect(port: node.port, caFile: nil)) }
            for _ in 0..<200 {
                if let client = try? await RawClient.connect(port: node.port, caFile: node.keys + "/ca.crt") {
                    flood.append(client)
                }
            }
            // Let the node accept (and displace) the whole flood before the good client comes.
            try await Task.sleep(for: .milliseconds(500))
            let start = ContinuousClock.now
            try await node.assertServesGoodClient()
            let latency = ContinuousClock.now - start
            print("unauthenticated flood of \(flood.count) sockets: good client served in \(latency)")
            #expect(latency < TestTime.scaled(.seconds(3)))
            for client in flood { await client.close() }
        }
    }

    /// One user opens 16 connections × 4 GETs with the largest window and never reads. The node is an `edfs node`
    /// process of its own, so its VmRSS is the node's alone.
    @Test(.timeLimit(.minutes(TestTime.isScaled ? 30 : 3)), .enabled(if: edfsBinary() != nil, "the edfs binary was not found"))
    func anUnreadGetFloodDoesNotStallOthersOrKeepNodeMemory() async throws {
        let node = try SeparateNodeProcess(binary: try #require(edfsBinary()))
        defer { node.stop() }
        let owner = try await node.connect("alice")
        try await owner.putObject("big", bytes: randomBytes(16 << 20))
        await owner.close()
        try await Task.sleep(for: .milliseconds(300))
        let baseline = residentMiB(pid: node.pid)

        var flood: [UnreadGetClient] = []
        for _ in 0..<16 {
            flood.append(try await UnreadGetClient.open(port: node.port, caFile: node.caFile,
                                                        user: "alice", object: "big", gets: 4))
        }
        // Data flows on every connection, then nobody reads: kernel buffers and the node's fill up.
        #expect(await eventually(seconds: 10) { flood.allSatisfy { $0.received >= 64 << 10 } })
        for client in flood { try await client.stopReading() }
        var peak = residentMiB(pid: node.pid)
        for _ in 0..<10 {
            try await Task.sleep(for: .milliseconds(100))
            peak = max(peak, residentMiB(pid: node.pid))
        }

        // Another user's GET is served meanwhile.
        let start = ContinuousClock.now
        let bob = try await node.connect("bob")
        let mine = randomBytes(4 << 20)
        try await bob.putObject("mine", bytes: mine)
        #expect(try await bob.getObject("mine") == mine)
        let latency = ContinuousClock.now - start
        await bob.close()
        peak = max(peak, residentMiB(pid: node.pid))

        for client in flood { await client.close() }
        try await Task.sleep(for: .seconds(1))
        let after = residentMiB(pid: node.pid)
        print("unread-GET flood: node VmRSS baseline \(baseline) MiB, peak \(peak) MiB, after \(after) MiB; "
            + "other user's put+get of 4 MiB in \(latency)")
        #expect(baseline > 0, "no VmRSS for the node process")
        #expect(latency < TestTime.scaled(.seconds(5)))
        // The flood asks for 1 GiB (16 connections × 4 GETs × 16 MiB); a node without the limits held 300+ MB and kept
        // ~220 MB. With them, each connection holds at most its write buffer (1 MiB high water mark) plus one block in
        // flight, in plaintext and TLS ciphertext, with the allocator's rounding, and the read budget is 32 MiB: a debug
        // build measured 156 MiB above the baseline on 2 loaded cores. The bound leaves room for allocator variance;
        // the memory must come back after the close.
        // AddressSanitizer keeps freed memory in its quarantine on purpose, and ThreadSanitizer's allocator and shadow
        // memory grow the node's VmRSS several times over (308 MiB above the baseline measured): no bound holds there.
        let environment = ProcessInfo.processInfo.environment
        if environment["ASAN_OPTIONS"] == nil && environment["TSAN_OPTIONS"] == nil {
            #expect(peak - baseline < 224)
            #expect(after - baseline < 32)
        } else {
            print("unread-GET flood: memory bounds not checked under a sanitizer (its allocator decides VmRSS)")
        }
    }
}
