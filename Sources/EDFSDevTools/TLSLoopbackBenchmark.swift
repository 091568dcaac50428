import EDFSCrypto
import NIOCore
import NIOPosix
import NIOSSL

/// The transport ceiling for a node: one bare SwiftNIO + NIOSSL (TLS 1.3) connection on loopback, pushing
/// `totalBytes` from client to server in `writeSize` writes, honouring writability; no framing, no disk.
public enum TLSLoopbackBenchmark {
    /// Why the benchmark could not run.
    public struct Failure: Error, CustomStringConvertible {
        public let description: String
    }

    /// Transfers `totalBytes` and returns the time from the end of the handshake (one byte there and back) to the
    /// server's acknowledgement of the last byte. The server presents `certificateFile`/`privateKeyFile`; the client trusts `caFile`.
    public static func run(totalBytes: Int, writeSize: Int = 1 << 20, certificateFile: String, privateKeyFile: String,
                           caFile: String) async throws -> Duration {
        var serverTLS = TLSConfiguration.makeServerConfiguration(
            certificateChain: try NIOSSLCertificate.fromPEMFile(certificateFile).map { .certificate($0) },
            privateKey: .privateKey(try NIOSSLPrivateKey(file: privateKeyFile, format: .pem)))
        serverTLS.minimumTLSVersion = .tlsv13
        var clientTLS = TLSConfiguration.makeClientConfiguration()
        clientTLS.minimumTLSVersion = .tlsv13
        clientTLS.trustRoots = .certificates(try NIOSSLCertificate.fromPEMFile(caFile))
        let serverContext = try NIOSSLContext(configuration: serverTLS)
        let clientContext = try NIOSSLContext(configuration: clientTLS)
        // One event loop each, as if client and server were separate processes (one core each).
        let serverGroup = MultiThreadedEventLoopGroup(numberOfThreads: 1)
        let clientGroup = MultiThreadedEventLoopGroup(numberOfThreads: 1)
        defer {
            serverGroup.shutdownGracefully { _ in }
            clientGroup.shutdownGracefully { _ in }
        }

        let server = try await ServerBootstrap(group: serverGroup)
            .childChannelOption(.recvAllocator, value: AdaptiveRecvByteBufferAllocator(minimum: 1024, initial: 64 << 10,
                                                                                       maximum: 1 << 20))
            .childChannelInitializer { channel in
                channel.eventLoop.makeCompletedFuture {
                    try channel.pipeline.syncOperations.addHandler(NIOSSLServerHandler(context: serverContext))
                    try channel.pipeline.syncOperations.addHandler(Sink(total: totalBytes))
                }
            }
            .bind(host: "127.0.0.1", port: 0).get()
        defer { server.close(promise: nil) }
        guard let port = server.localAddress?.port else { throw Failure(description: "no local port") }

        let done = clientGroup.next().makePromise(of: Duration.self)
        let chunk = ByteBuffer(bytes: try SecureRandom.bytes(writeSize))
        let client = try await ClientBootstrap(group: clientGroup)
            .channelOption(.writeBufferWaterMark, value: .init(low: 512 << 10, high: 2 << 20))
            .channelInitializer { channel in
                channel.eventLoop.makeCompletedFuture {
                    try channel.pipeline.syncOperations.addHandler(NIOSSLClientHandler(context: clientContext,
                                                                                       serverHostname: nil))
                    try channel.pipeline.syncOperations.addHandler(Source(total: totalBytes, chunk: chunk, done: done))
                }
            }
            .connect(host: "127.0.0.1", port: port).get()
        defer { client.close(promise: nil) }
        return try await done.futureResult.get()
    }

    /// Answers the client's first byte (so the client starts once TLS is up), then counts `total` bytes and
    /// answers one byte when all have arrived.
    private final class Sink: ChannelInboundHandler {
        typealias InboundIn = ByteBuffer
        typealias OutboundOut = ByteBuffer
        let total: Int
        var received = -1

        init(total: Int) { self.total = total }

        func channelRead(context: ChannelHandlerContext, data: NIOAny) {
            let before = received
            received += unwrapInboundIn(data).readableBytes
            if before < 0 || (before < total && received >= total) {
                context.writeAndFlush(wrapOutboundOut(ByteBuffer(bytes: [1])), promise: nil)
            }
        }
    }

    /// Writes one reused buffer until `total` bytes are queued, whenever the channel is writable.
    private final class Source: ChannelInboundHandler {
        typealias InboundIn = ByteBuffer
        typealias OutboundOut = ByteBuffer
        let total: Int
        let chunk: ByteBuffer
        let done: EventLoopPromise<Duration>
        var sent = 0
        var started: ContinuousClock.Instant?
        var finished = false

        init(total: Int, chunk: ByteBuffer, done: EventLoopPromise<Duration>) {
            self.total = total
            self.chunk = chunk
            self.done = done
        }

        func channelActive(context: ChannelHandlerContext) {
            // One byte there and back: the TLS handshake is done when the answer arrives.
            context.writeAndFlush(wrapOutboundOut(ByteBuffer(bytes: [0])), promise: nil)
            context.fireChannelActive()
        }

        func channelWritabilityChanged(context: ChannelHandlerContext) {
            if started != nil { pump(context) }
            context.fireChannelWritabilityChanged()
        }

        private func pump(_ context: ChannelHandlerContext) {
            // Flush each write: writability only changes once bytes reach the socket.
            while sent < total, context.channel.isWritable {
                let count = min(chunk.readableBytes, total - sent)
                context.writeAndFlush(wrapOutboundOut(chunk.getSlice(at: chunk.readerIndex, length: count) ?? chunk),
                                      promise: nil)
                sent += count
            }
        }

        private func finish(_ result: Result<Duration, any Error>) {
            guard !finished else { return }
            finished = true
            done.completeWith(result)
        }

        func channelRead(context: ChannelHandlerContext, data: NIOAny) {
            if let started {
                finish(.success(.now - started))
            } else {
                started = .now
                pump(context)
            }
        }

        func errorCaught(context: ChannelHandlerContext, error: any Error) {
            finish(.failure(error))
            context.close(promise: nil)
        }

        func channelInactive(context: ChannelHandlerContext) {
            finish(.failure(Failure(description: "connection closed before the transfer finished")))
        }
    }
}
