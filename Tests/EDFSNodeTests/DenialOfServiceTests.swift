import EDFSClient
import EDFSFormat
import EDFSNode
import Foundation
import NIOCore
import NIOPosix
import NIOSSL
import Synchronization
import Testing

/// This process's resident memory (VmRSS of /proc/self/status), in MiB; 0 where there is none.
func residentMiB() -> Int {
    guard let text = try? String(contentsOfFile: "/proc/self/status", encoding: .utf8),
          let line = text.split(separator: "\n").first(where: { $0.hasPrefix("VmRSS:") }),
          let kib = Int(line.split(separator: " ").dropFirst().first ?? "") else { return 0 }
    return kib / 1024
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
    private let state = Mutex(0)
    func add(_ count: Int) { state.withLock { $0 += count } }
    var value: Int { state.withLock { $0 } }
}

/// Issue 11's floods against one node over real TLS on loopback: a good client of another user stays served.
@Suite(.serialized) struct DenialOfServiceTests {
    /// 200 TCP sockets that never speak and 200 that finish TLS but never log in.
    @Test(.timeLimit(.minutes(1))) func anUnauthenticatedFloodDoesNotKeepAGoodClientOut() async throws {
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
            #expect(latency < .seconds(3))
            for client in flood { await client.close() }
        }
    }

    /// One user opens 16 connections × 4 GETs with the largest window and never reads.
    @Test(.timeLimit(.minutes(1))) func anUnreadGetFloodDoesNotStallOthersOrKeepNodeMemory() async throws {
        try await withNode { node in
            let owner = try await node.connect("alice")
            try await owner.putObject("big", bytes: randomBytes(16 << 20))
            await owner.close()
            try await Task.sleep(for: .milliseconds(300))
            let baseline = residentMiB()

            var flood: [UnreadGetClient] = []
            for _ in 0..<16 {
                flood.append(try await UnreadGetClient.open(port: node.port, caFile: node.keys + "/ca.crt",
                                                            user: "alice", object: "big", gets: 4))
            }
            // Data flows on every connection, then nobody reads: kernel buffers and the node's fill up.
            #expect(await node.eventually(seconds: 10) { flood.allSatisfy { $0.received >= 64 << 10 } })
            print("flood: streaming \(flood.map(\.received).reduce(0, +) >> 20) MiB received")
            for client in flood { try await client.stopReading() }
            var peak = residentMiB()
            for _ in 0..<10 {
                try await Task.sleep(for: .milliseconds(100))
                peak = max(peak, residentMiB())
            }

            print("flood: peak so far \(peak) MiB")
            // Another user's GET is served meanwhile.
            let start = ContinuousClock.now
            let bob = try await node.connect("bob")
            let mine = randomBytes(4 << 20)
            try await bob.putObject("mine", bytes: mine)
            #expect(try await bob.getObject("mine") == mine)
            let latency = ContinuousClock.now - start
            await bob.close()
            peak = max(peak, residentMiB())

            print("flood: bob served in \(latency)")
            for client in flood { await client.close() }
            try await Task.sleep(for: .seconds(1))
            let after = residentMiB()
            print("unread-GET flood: VmRSS baseline \(baseline) MiB, peak \(peak) MiB, after \(after) MiB; "
                + "other user's put+get of 4 MiB in \(latency)")
            #expect(latency < .seconds(5))
            // The node's bound for 16 connections of one user: 16 × (1 MiB write buffer + one 1 MiB frame) plus
            // the 32 MiB read budget, with TLS and allocator overhead and this process's clients under 192 MiB above the baseline; and it returns after the close.
            #expect(peak - baseline < 192)
            #expect(after - baseline < 48)
        }
    }
}
