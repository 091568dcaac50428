import EDFSClient
import EDFSCrypto
import EDFSFormat
import EDFSNode
import EDFSTestSupport
import Foundation
import Testing

/// Only TLS 1.3 peers that trust the cluster CA and find the right host name get anywhere; connection-level limits.
@Suite struct TLSAndLimitTests {
    @Test func aClientThatDoesNotTrustTheCACannotConnect() async throws {
        try await withNode { node in
            let other = try TemporaryDirectory()
            defer { other.remove() }
            try DevelopmentPKI.initialize(directory: other.path, nodeNames: ["N1"], hosts: ["127.0.0.1"], force: false)
            let stranger = try NodeTLSTrust(caFile: other.path + "/ca.crt")
            do {
                _ = try await NodeConnection.connect(host: "127.0.0.1", port: node.port, trust: stranger,
                                                     options: .forTests)
                Issue.record("connected without trusting the CA")
            } catch let error as NodeConnectionError {
                guard case .tlsFailed = error else {
                    Issue.record("expected a TLS failure, got \(error)")
                    return
                }
            }
            // The host name is checked too: "localhost" is in the certificate, so it works.
            let byName = try await NodeConnection.connect(host: "localhost", port: node.port, trust: node.trust,
                                                          options: .forTests)
            #expect(byName.nodeName == "N1")
            await byName.close()
            try await node.assertServesGoodClient()
        }
    }

    @Test func aCertificateForAnotherHostIsRefused() async throws {
        let node = try await TestNode(hosts: ["10.11.12.13"])
        do {
            _ = try await NodeConnection.connect(host: "127.0.0.1", port: node.port, trust: node.trust,
                                                 options: .forTests)
            Issue.record("connected to a node whose certificate names another host")
        } catch let error as NodeConnectionError {
            if case .tlsFailed = error {} else { Issue.record("expected a TLS failure, got \(error)") }
        } catch {
            Issue.record("unexpected \(error)")
        }
        await node.stop()
    }

    @Test func plainTCPGetsNothingButAFailedHandshake() async throws {
        try await withNode { node in
            let plain = try await RawClient.connect(port: node.port, caFile: nil)
            let payload = try WireRequest.hello(versions: [1], client: "plain").encodePayload()
            let hello = WireFrameHeader(type: .hello, requestID: 1, payloadLength: payload.count).encoded + payload
            try await plain.send(hello)
            let answer = try await plain.receiveAll()
            // At most a TLS alert record (content type 21); never a frame of the protocol.
            #expect(answer.isEmpty || answer[0] == 21, "got \(answer.prefix(16))")
            #expect(!answer.starts(with: [0, 0, 0]))
            await plain.close()
            try await node.assertServesGoodClient()
        }
    }

    @Test func connectionsPerNodeAreLimited() async throws {
        var limits = NodeLimits()
        limits.maxConnections = 2
        try await withNode(limits: limits) { node in
            try await expectCapOfTwoConnections(nodeName: "N1") { try await node.connect() }
        }
    }

    @Test func loginTimeoutClosesTheConnection() async throws {
        var limits = NodeLimits()
        // Short for the lazy client, long enough that the good client afterwards logs in on a loaded 2-core machine
        // (times `TestTime.scale` under a sanitizer).
        limits.loginTimeout = TestTime.scaled(.seconds(6))
        try await withNode(limits: limits) { node in
            let lazy = try await RawClient.connect(port: node.port, caFile: node.keys + "/ca.crt")
            try await lazy.sendRequest(.hello(versions: [1], client: "raw"), id: 1)
            let frames = try await lazy.receiveUntilClosed(timeout: .seconds(15))
            let error = try #require(wireError(frames.last))
            #expect(error.code == .timeout && error.fatal)
            await lazy.close()
            try await node.assertServesGoodClient()
        }
    }

    @Test func idleTimeoutClosesTheConnection() async throws {
        var limits = NodeLimits()
        // Long enough that TLS, HELLO and LOGIN finish first even while the whole suite loads both cores (times
        // `TestTime.scale` under a sanitizer).
        let idleTime = TestTime.scaled(.seconds(15))
        limits.idleTimeout = idleTime
        // Not what this test checks: under the suite's first burst the default 10 s login deadline closed the
        // connection before LOGIN was written ("I/O on closed channel" in two clean-clone runs).
        limits.loginTimeout = TestTime.scaled(.seconds(60))
        try await withNode(limits: limits) { node in
            let start = ContinuousClock.now
            let idle = try await RawClient.connect(port: node.port, caFile: node.keys + "/ca.crt")
            try await idle.helloAndLogin()
            #expect(try await idle.receiveUntilClosed(timeout: .seconds(30)).isEmpty)
            // Closed no earlier than the idle time after the connection's last activity (which came after `start`).
            #expect(ContinuousClock.now - start >= idleTime)
            await idle.close()
        }
    }

    @Test func aTLS12OnlyClientIsRefused() async throws {
        try await withNode { node in
            let old = try await RawClient.connect(port: node.port, caFile: node.keys + "/ca.crt", maximumTLS12: true)
            try? await old.sendRequest(.hello(versions: [1], client: "old"), id: 1)
            #expect(try await old.receiveUntilClosed(timeout: .seconds(5)).isEmpty)
            await old.close()
        }
    }
}
