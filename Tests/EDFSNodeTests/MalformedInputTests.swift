import EDFSClient
import EDFSFormat
import EDFSNode
import EDFSTestSupport
import Foundation
import Testing

/// Bad input at every layer gets the documented error (and a closed connection where it is FATAL),
/// and the node goes on serving a well-behaved client.
@Suite struct MalformedInputTests {
    static let badNames = ["..", "../x", "a/b", "/etc/passwd", "", "a\u{0}b", String(repeating: "a", count: 300),
                           ".hidden", "a..b", "sp ace", "ünï"]

    private func raw(_ node: TestNode) async throws -> RawClient {
        try await RawClient.connect(port: node.port, caFile: node.keys + "/ca.crt")
    }

    @Test func truncatedFramesThenDisconnect() async throws {
        try await withNode { node in
            let first = try await raw(node)
            try await first.send([0, 0, 0])  // three bytes of a length field
            await first.close()
            let second = try await raw(node)
            try await second.helloAndLogin()
            // A PUT header that promises 100 payload bytes, of which 10 arrive.
            try await second.send(WireFrameHeader(type: .putObject, requestID: 3, payloadLength: 100).encoded + [UInt8](repeating: 0, count: 10))
            await second.close()
            try await node.assertServesGoodClient()
            #expect(node.temporaryFiles().isEmpty)
        }
    }

    @Test func frameLengthOverTheLimitIsFatal() async throws {
        try await withNode { node in
            for loggedIn in [false, true] {
                let client = try await raw(node)
                if loggedIn { try await client.helloAndLogin() }
                try await client.send([0x7F, 0xFF, 0xFF, 0xFF, 0x10, 0, 0, 0, 0, 3])
                let frames = try await client.receiveUntilClosed()
                let error = try #require(wireError(frames.last))
                #expect(error.code == .tooLarge)
                #expect(error.fatal)
                await client.close()
            }
            try await node.assertServesGoodClient()
        }
    }

    @Test func shortLengthFieldAndUnknownFlagsAreFatal() async throws {
        try await withNode { node in
            for header in [[0, 0, 0, 5, 1, 0, 0, 0, 0, 1] as [UInt8], [0, 0, 0, 6, 1, 0x80, 0, 0, 0, 1]] {
                let client = try await raw(node)
                try await client.send(header)
                let error = try #require(wireError(try await client.receiveUntilClosed().last))
                #expect(error.code == .malformed && error.fatal)
                await client.close()
            }
            try await node.assertServesGoodClient()
        }
    }

    @Test func unknownOperationIsRefusedAndTheConnectionGoesOn() async throws {
        try await withNode { node in
            let client = try await raw(node)
            try await client.helloAndLogin()
            try await client.sendFrame(WireFrameType(rawValue: 0x55), id: 3, payload: [1, 2, 3])
            let refusal = try await client.receiveFrame()
            #expect(wireError(refusal)?.code == .unsupported)
            #expect(refusal?.header.requestID == 3)
            // SET_VERIFIER with a payload that is not method 1 + 16 bytes: refused, the connection goes on.
            try await client.sendFrame(.setVerifier, id: 4, payload: [9])
            #expect(wireError(try await client.receiveFrame())?.code == .malformed)
            try await client.sendRequest(.status, id: 5)
            let status = try #require(try await client.receiveFrame())
            #expect(status.header.type == WireFrameType.status.reply)
            await client.close()
        }
    }

    @Test func nothingButHelloBeforeLogin() async throws {
        try await withNode { node in
            // Before HELLO: FATAL.
            let early = try await raw(node)
            try await early.sendRequest(.status, id: 1)
            let error = try #require(wireError(try await early.receiveUntilClosed().last))
            #expect(error.code == .malformed && error.fatal)
            await early.close()

            // After HELLO, before LOGIN: every operation answers "not authenticated".
            let client = try await raw(node)
            try await client.sendRequest(.hello(versions: [7, 1], client: "raw"), id: 1)
            let hello = try #require(try await client.receiveFrame())
            #expect(try WireReply.decode(type: hello.header.type, payload: hello.payload)
                == .hello(version: 1, nodeName: "N1", limits: WireNodeLimits(
                    maxFrameLength: UInt32(WireProtocol.defaultMaxFrameLength), maxDataPayload: 1 << 20,
                    maxStreams: 32, maxObjectLength: 64 << 30)))
            let requests: [WireRequest] = [
                .status, .putObject(id: "x", length: 1), .getObject(id: "x", offset: 0, length: 1, window: 10),
                .statObject(id: "x", verify: false), .deleteObject(id: "x"), .list(kind: .objects, startAfter: "", limit: 5),
                .putManifest(id: "x", bytes: [1]), .getManifest(id: "x"), .deleteManifest(id: "x", ifVersionAtMost: 1),
                .putKeyslot(bytes: [1]), .getKeyslot,
            ]
            var id: UInt32 = 2
            for request in requests {
                try await client.sendRequest(request, id: id)
                let answer = try await client.receiveFrame()
                #expect(wireError(answer)?.code == .notAuthenticated, "\(request.frameType)")
                #expect(answer?.header.requestID == id)
                id += 1
            }
            // The PUT was refused, so its stray DATA is discarded, not stored.
            try await client.sendFrame(.data, id: 3, payload: [1])
            try await client.sendRequest(.login(method: 1, user: "alice", proof: Hex.encode(md5("alice-secret"))), id: id)
            #expect(try await client.receiveFrame()?.header.type == WireFrameType.login.reply)
            try await client.sendRequest(.status, id: id + 1)
            let status = try #require(try await client.receiveFrame())
            guard case let .status(info)? = try WireReply.decode(type: status.header.type, payload: status.payload) else {
                Issue.record("expected STATUS_OK")
                return
            }
            #expect(info.objectCount == 0)
            await client.close()
            #expect(node.directory.allFiles().allSatisfy { !$0.contains("objects/x") })
        }
    }

    @Test func noCommonVersionIsFatal() async throws {
        try await withNode { node in
            let client = try await raw(node)
            try await client.sendRequest(.hello(versions: [2, 3], client: "future"), id: 1)
            let error = try #require(wireError(try await client.receiveUntilClosed().last))
            #expect(error.code == .unsupported && error.fatal)
            await client.close()
        }
    }

    @Test func requestIDsMustIncreaseAndStreamFramesNeedARequest() async throws {
        try await withNode { node in
            let repeated = try await raw(node)
            try await repeated.helloAndLogin()
            try await repeated.sendRequest(.status, id: 2)
            #expect(wireError(try await repeated.receiveUntilClosed().last)?.code == .malformed)
            await repeated.close()

            let stray = try await raw(node)
            try await stray.helloAndLogin()
            try await stray.sendFrame(.data, id: 9, payload: [1, 2])
            #expect(wireError(try await stray.receiveUntilClosed().last)?.code == .malformed)
            await stray.close()
            try await node.assertServesGoodClient()
        }
    }

    @Test func wrongPasswordAndUnknownUserGetTheSameAnswer() async throws {
        var limits = NodeLimits()
        limits.loginThrottle = LoginThrottle(baseDelay: .milliseconds(1), maxDelay: .milliseconds(2), maxFailures: 100)
        try await withNode(limits: limits) { node in
            var answers: [String] = []
            for (user, password) in [("alice", "wrong"), ("nobody", "alice-secret"), ("../../etc", "x"), ("", "")] {
                let connection = try await NodeConnection.connect(host: "127.0.0.1", port: node.port, trust: node.trust,
                                                                  options: .forTests)
                do {
                    try await connection.login(user: user, passwordDigest: md5(password))
                    Issue.record("login of \(user) succeeded")
                } catch {
                    #expect(nodeCode(error) == .authenticationFailed)
                    answers.append("\(error)")
                }
                // Refused, but the connection stays usable for another attempt.
                try await connection.login(user: "alice", passwordDigest: md5("alice-secret"))
                await expectRefusal(.conflict) { try await connection.login(user: "bob", passwordDigest: md5("bob-secret")) }
                await connection.close()
            }
            #expect(Set(answers).count == 1)
            // A malformed proof is just a wrong password.
            let client = try await raw(node)
            try await client.sendRequest(.hello(versions: [1], client: "raw"), id: 1)
            _ = try await client.receiveFrame()
            try await client.sendRequest(.login(method: 1, user: "alice", proof: "not hex at all"), id: 2)
            #expect(wireError(try await client.receiveFrame())?.code == .authenticationFailed)
            try await client.sendRequest(.login(method: 9, user: "alice", proof: ""), id: 3)
            #expect(wireError(try await client.receiveFrame())?.code == .unsupported)
            await client.close()
        }
    }

    @Test func failedLoginsAreSlowedThenRefused() async throws {
        var limits = NodeLimits()
        // A lockout long enough for the checks on 2 loaded cores (times `TestTime.scale` under a sanitizer).
        let lockout = TestTime.scaled(.seconds(8))
        limits.loginThrottle = LoginThrottle(baseDelay: .milliseconds(40), maxDelay: .milliseconds(80), maxFailures: 3,
                                             lockout: lockout)
        // The test waits out the lockout on one connection that is not logged in (times `TestTime.scale`).
        limits.loginTimeout = TestTime.scaled(.seconds(60))
        try await withNode(limits: limits) { node in
            let connection = try await NodeConnection.connect(host: "127.0.0.1", port: node.port, trust: node.trust,
                                                              options: .forTests)
            var delays: [Duration] = []
            for _ in 0..<3 {
                let start = ContinuousClock.now
                await expectRefusal(.authenticationFailed) {
                    try await connection.login(user: "alice", passwordDigest: md5("guess"))
                }
                delays.append(ContinuousClock.now - start)
            }
            #expect(delays[0] >= .milliseconds(40))
            #expect(delays[1] >= .milliseconds(80))
            // Locked: even the right password is refused, without being checked.
            await expectRefusal(.throttled) { try await connection.login(user: "alice", passwordDigest: md5("alice-secret")) }
            // Another user from the same address is not affected.
            let bob = try await node.connect("bob")
            await bob.close()
            // After the lockout the right password works again.
            try await Task.sleep(for: lockout + .milliseconds(100))
            try await connection.login(user: "alice", passwordDigest: md5("alice-secret"))
            await connection.close()
        }
    }

    @Test(arguments: MalformedInputTests.badNames)
    func invalidNamesNeverBecomePaths(_ name: String) async throws {
        try await withNode { node in
            let connection = try await node.connect()
            await expectRefusal(.invalidName) { try await connection.putObject(name, bytes: [1, 2, 3]) }
            await expectRefusal(.invalidName) { _ = try await connection.getObject(name) }
            await expectRefusal(.invalidName) { _ = try await connection.stat(object: name) }
            await expectRefusal(.invalidName) { try await connection.delete(object: name) }
            await expectRefusal(.invalidName) { _ = try await connection.getManifest(name) }
            await expectRefusal(.invalidName) { try await connection.putManifest(name, bytes: [UInt8](repeating: 0, count: 100)) }
            await expectRefusal(.invalidName) { try await connection.deleteManifest(name, maxVersion: .max) }
            // The connection is still good, and nothing was created anywhere.
            #expect(try await connection.listObjects().isEmpty)
            await connection.close()
            // Only the certificates and the data folder's lock file, which the node makes at start.
            #expect(node.directory.allFiles().allSatisfy { $0.hasPrefix("Keys/") || $0 == "data/node.lock" })
            try await node.assertServesGoodClient()
        }
    }

    @Test func dataLongerOrShorterThanAnnouncedStoresNothing() async throws {
        try await withNode { node in
            let client = try await raw(node)
            try await client.helloAndLogin()
            // Longer: the DATA that goes past the announced length is refused at once.
            try await client.sendRequest(.putObject(id: "long", length: 10), id: 3)
            try await client.sendFrame(.data, id: 3, payload: [UInt8](repeating: 7, count: 6))
            try await client.sendFrame(.data, id: 3, payload: [UInt8](repeating: 7, count: 5))
            try await client.sendFrame(.end, id: 3)  // raced the ERROR: discarded
            let long = try #require(try await client.receiveFrame())
            #expect(long.header.requestID == 3)
            #expect(wireError(long)?.code == .lengthMismatch)
            // Shorter: END before the announced length.
            try await client.sendRequest(.putObject(id: "short", length: 10), id: 4)
            try await client.sendFrame(.data, id: 4, payload: [1, 2, 3, 4, 5])
            try await client.sendFrame(.end, id: 4)
            let short = try #require(try await client.receiveFrame())
            #expect(short.header.requestID == 4 && wireError(short)?.code == .lengthMismatch)
            // Exactly right, in three frames.
            try await client.sendRequest(.putObject(id: "exact", length: 6), id: 5)
            for part in [[1, 2], [3, 4], [5, 6]] as [[UInt8]] { try await client.sendFrame(.data, id: 5, payload: part) }
            try await client.sendFrame(.end, id: 5)
            let exact = try #require(try await client.receiveFrame())
            #expect(exact.header.type == WireFrameType.putObject.reply)
            await client.close()

            let connection = try await node.connect()
            #expect(try await connection.listObjects() == ["exact": 6])
            #expect(try await connection.getObject("exact") == [1, 2, 3, 4, 5, 6])
            await connection.close()
            #expect(node.temporaryFiles().isEmpty)
        }
    }

    @Test func limitsAreEnforced() async throws {
        var limits = NodeLimits()
        limits.maxStreams = 2
        limits.maxObjectLength = 1000
        try await withNode(limits: limits) { node in
            let connection = try await node.connect()
            await expectRefusal(.tooLarge) { try await connection.putObject("big", bytes: randomBytes(1001)) }
            try await connection.putObject("fits", bytes: randomBytes(1000))
            await connection.close()

            let client = try await raw(node)
            try await client.helloAndLogin()
            for id: UInt32 in 3...5 { try await client.sendRequest(.putObject(id: "open-\(id)", length: 5), id: id) }
            let error = try #require(wireError(try await client.receiveUntilClosed().last))
            #expect(error.code == .limitExceeded && error.fatal)
            await client.close()
            #expect(await node.eventually { node.temporaryFiles().isEmpty })
            try await node.assertServesGoodClient()
        }
    }

    @Test func storageFullIsRefusedUpFront() async throws {
        var limits = NodeLimits()
        limits.maxObjectLength = UInt64.max
        try await withNode(limits: limits) { node in
            let connection = try await node.connect()
            let upload = try await connection.startPut(object: "huge", length: 1 << 62)
            do {
                try await upload.write(bytes: [1, 2, 3])
                _ = try await connection.status()  // its reply comes after the PUT's refusal
                try await upload.write(bytes: [4])
                Issue.record("a put larger than the disk was accepted")
            } catch {
                #expect(nodeCode(error) == .storageFull, "got \(error)")
            }
            await connection.close()
            #expect(node.temporaryFiles().isEmpty)
            try await node.assertServesGoodClient()
        }
    }
}
