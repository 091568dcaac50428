import EDFSCrypto
import EDFSClient
import EDFSFormat
import EDFSTestSupport
import NIOCore
import NIOPosix
import NIOSSL
import Testing

/// Bytes received on a raw connection, and whether it ended; readers wait for changes.
final class RawInbox: Sendable {
    private struct State {
        var bytes: [UInt8] = []
        var closed = false
        var waiters: [CheckedContinuation<Void, Never>] = []
    }

    private let state = PthreadMutex(State())

    func append(_ buffer: ByteBuffer) {
        let waiters = state.withLock { s -> [CheckedContinuation<Void, Never>] in
            s.bytes.append(contentsOf: buffer.readableBytesView)
            defer { s.waiters.removeAll() }
            return s.waiters
        }
        for waiter in waiters { waiter.resume() }
    }

    func close() {
        let waiters = state.withLock { s -> [CheckedContinuation<Void, Never>] in
            s.closed = true
            defer { s.waiters.removeAll() }
            return s.waiters
        }
        for waiter in waiters { waiter.resume() }
    }

    /// Runs `body` on the buffered bytes (it may consume them); returns its result and whether the connection ended.
    func inspect<T>(_ body: (inout [UInt8]) -> T) -> (T, Bool) {
        state.withLock { s in (body(&s.bytes), s.closed) }
    }

    /// Waits until more bytes arrive or the connection ends (returns at once if it already ended).
    func waitForChange(seenCount: Int) async {
        await withCheckedContinuation { (continuation: CheckedContinuation<Void, Never>) in
            let ready = state.withLock { s -> Bool in
                if s.closed || s.bytes.count != seenCount { return true }
                s.waiters.append(continuation)
                return false
            }
            if ready { continuation.resume() }
        }
    }
}

/// A connection that sends arbitrary bytes to a node (over TLS trusting the test CA, or plain TCP) and reads back
/// raw bytes or frames: for malformed-input tests that a well-behaved client cannot produce.
final class RawClient: Sendable {
    private final class Collector: ChannelInboundHandler, Sendable {
        typealias InboundIn = ByteBuffer
        let inbox: RawInbox

        init(_ inbox: RawInbox) { self.inbox = inbox }

        func channelRead(context: ChannelHandlerContext, data: NIOAny) { inbox.append(unwrapInboundIn(data)) }
        func channelInactive(context: ChannelHandlerContext) { inbox.close() }
        func errorCaught(context: ChannelHandlerContext, error: any Error) { context.close(promise: nil) }
    }

    let channel: any Channel
    let inbox: RawInbox

    private init(channel: any Channel, inbox: RawInbox) {
        self.channel = channel
        self.inbox = inbox
    }

    /// Connects to `port` on 127.0.0.1; with `caFile`, over TLS 1.3 (or only 1.2) trusting that CA, else plain TCP.
    static func connect(port: Int, caFile: String?, maximumTLS12: Bool = false) async throws -> RawClient {
        let inbox = RawInbox()
        var sslContext: NIOSSLContext?
        if let caFile {
            var tls = TLSConfiguration.makeClientConfiguration()
            tls.minimumTLSVersion = maximumTLS12 ? .tlsv12 : .tlsv13
            if maximumTLS12 { tls.maximumTLSVersion = .tlsv12 }
            tls.trustRoots = .certificates(try NIOSSLCertificate.fromPEMFile(caFile))
            sslContext = try NIOSSLContext(configuration: tls)
        }
        let context = sslContext
        let channel = try await ClientBootstrap(group: MultiThreadedEventLoopGroup.singleton)
            .channelInitializer { channel in
                channel.eventLoop.makeCompletedFuture {
                    if let context {
                        try channel.pipeline.syncOperations.addHandler(NIOSSLClientHandler(context: context, serverHostname: nil))
                    }
                    try channel.pipeline.syncOperations.addHandler(Collector(inbox))
                }
            }
            .connect(host: "127.0.0.1", port: port).get()
        return RawClient(channel: channel, inbox: inbox)
    }

    func send(_ bytes: [UInt8]) async throws {
        try await channel.writeAndFlush(ByteBuffer(bytes: bytes))
    }

    func sendFrame(_ type: WireFrameType, id: UInt32, payload: [UInt8] = []) async throws {
        let header = WireFrameHeader(type: type, requestID: id, payloadLength: payload.count)
        try await send(header.encoded + payload)
    }

    func sendRequest(_ request: WireRequest, id: UInt32) async throws {
        try await sendFrame(request.frameType, id: id, payload: try request.encodePayload())
    }

    /// HELLO then LOGIN as `user`, expecting both to succeed; uses request ids 1 and 2.
    func helloAndLogin(user: String = "alice") async throws {
        try await sendRequest(.hello(versions: [1], client: "raw"), id: 1)
        let hello = try #require(try await receiveFrame())
        #expect(hello.header.type == WireFrameType.hello.reply)
        let password = try #require(testUsers[user])
        try await sendRequest(.login(method: 1, user: user, proof: Hex.encode(md5(password))), id: 2)
        let login = try #require(try await receiveFrame())
        #expect(login.header.type == WireFrameType.login.reply)
    }

    /// Reads the next whole frame; nil when the connection ends first. Every timeout here is times `TestTime.scale`.
    func receiveFrame(timeout: Duration = .seconds(10)) async throws -> (header: WireFrameHeader, payload: [UInt8])? {
        let deadline = ContinuousClock.now + TestTime.scaled(timeout)
        while true {
            let (parsed, closed) = inbox.inspect { bytes -> ((WireFrameHeader, [UInt8])?, Int) in
                guard let header = bytes.withUnsafeBytes({ try? WireFrameHeader.decode($0, maxLengthField: 1 << 30) }) ?? nil,
                      bytes.count >= WireProtocol.headerLength + header.payloadLength else { return (nil, bytes.count) }
                let payload = Array(bytes[WireProtocol.headerLength..<(WireProtocol.headerLength + header.payloadLength)])
                bytes.removeFirst(WireProtocol.headerLength + header.payloadLength)
                return ((header, payload), bytes.count)
            }
            if let frame = parsed.0 { return frame }
            if closed { return nil }
            guard ContinuousClock.now < deadline else { throw RawClientTimeout() }
            try await waitForChange(seenCount: parsed.1, until: deadline)
        }
    }

    private func waitForChange(seenCount: Int, until deadline: ContinuousClock.Instant) async throws {
        try await withThrowingTaskGroup(of: Void.self) { group in
            group.addTask { await self.inbox.waitForChange(seenCount: seenCount) }
            group.addTask {
                try await Task.sleep(until: deadline)
                throw RawClientTimeout()
            }
            defer { group.cancelAll() }
            do {
                try await group.next()
            } catch {
                // Wake the other task so the group can finish.
                inbox.append(ByteBuffer())
                throw error
            }
        }
    }

    /// Every byte until the connection ends (or `timeout`).
    func receiveAll(timeout: Duration = .seconds(10)) async throws -> [UInt8] {
        let deadline = ContinuousClock.now + TestTime.scaled(timeout)
        while true {
            let (count, closed) = inbox.inspect { $0.count }
            if closed { return inbox.inspect { $0 }.0 }
            try await waitForChange(seenCount: count, until: deadline)
        }
    }

    /// Reads frames until the connection ends; returns them.
    func receiveUntilClosed(timeout: Duration = .seconds(10)) async throws -> [(header: WireFrameHeader, payload: [UInt8])] {
        var frames: [(header: WireFrameHeader, payload: [UInt8])] = []
        while let frame = try await receiveFrame(timeout: timeout) { frames.append(frame) }
        return frames
    }

    func close() async { try? await channel.close() }
}

struct RawClientTimeout: Error, CustomStringConvertible {
    var description: String { "timed out waiting for the node" }
}

/// Decodes an ERROR frame.
func wireError(_ frame: (header: WireFrameHeader, payload: [UInt8])?) -> WireError? {
    guard let frame, frame.header.type == .error else { return nil }
    return try? WireError.decode(payload: frame.payload, flags: frame.header.flags)
}
