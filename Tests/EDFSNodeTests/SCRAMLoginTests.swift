import EDFSClient
import EDFSCrypto
@testable import EDFSNode
import EDFSFormat
import EDFSTestSupport
import Foundation
import Logging
import NIOSSL
import Testing

/// A SCRAM verifier for `password` (100,000 iterations: the least a client accepts), with a fixed salt per user.
func scramVerifier(_ password: String, salt: [UInt8] = Array(repeating: 0x5A, count: 16),
                   iterations: UInt32 = 100_000) throws -> SCRAMVerifier {
    let salted = try SCRAM.saltedPassword(password: SecureBytes(copying: Array(password.utf8)), salt: salt, iterations: iterations)
    return try SCRAMVerifier(saltedPassword: salted, salt: salt, iterations: iterations)
}

func derivation(_ password: String) -> PasswordDerivation {
    PasswordDerivation(password: SecureBytes(copying: Array(password.utf8)))
}

/// An in-process node with MD5 user `md5user` ("md5-secret") and SCRAM user `carol` ("carol-secret").
struct SCRAMNode {
    let directory: TemporaryDirectory
    let node: StorageNode

    init(legacyMD5Logins: Bool = true, scram: [String: SCRAMVerifier]? = nil, maxConnectionsPerUser: Int? = nil) throws {
        directory = try TemporaryDirectory()
        var configuration = NodeConfiguration(
            name: "S1", host: "127.0.0.1", port: 0, dataDirectory: directory.path + "/data",
            certificateFile: "", privateKeyFile: "", caFile: "", users: ["md5user": md5("md5-secret")])
        configuration.scramUsers = try scram ?? ["carol": scramVerifier("carol-secret")]
        configuration.legacyMD5Logins = legacyMD5Logins
        configuration.limits.loginThrottle = LoginThrottle(baseDelay: .milliseconds(1), maxDelay: .milliseconds(2))
        // The client's SCRAM PBKDF2 counts against the login deadline; on 2 cores shared with the whole suite the
        // default 10 s is too little.
        configuration.limits.loginTimeout = TestTime.scaled(.seconds(30))
        if let maxConnectionsPerUser { configuration.limits.maxConnectionsPerUser = maxConnectionsPerUser }
        var logger = Logger(label: "test-node")
        logger.logLevel = .critical
        node = try StorageNode(inProcess: configuration, logger: logger)
    }

    func connection() async throws -> NodeConnection {
        try await NodeConnection.connect(localDescriptor: try await node.openLocalSocket(), label: "S1 in-process",
                                         options: .forTests)
    }

    func shutdown() async {
        await node.shutdown()
        directory.remove()
    }
}

@Suite("SCRAM logins")
struct SCRAMLoginTests {
    @Test("a SCRAM user and an MD5 user both log in with their passwords; neither with the verifier or digest")
    func bothKindsLogIn() async throws {
        let node = try SCRAMNode()
        defer { Task { await node.shutdown() } }
        let carol = try await node.connection()
        try await carol.login(user: "carol", derivation: derivation("carol-secret"))
        #expect(carol.provenVerifier == .scram(try scramVerifier("carol-secret")))
        _ = try await carol.status()
        await carol.close()

        let legacy = try await node.connection()
        try await legacy.login(user: "md5user", derivation: derivation("md5-secret"))
        #expect(legacy.provenVerifier == .md5(md5("md5-secret")))
        await legacy.close()

        // The stored verifier or the digest, typed as a password, opens nothing.
        for (user, fake) in [("carol", try scramVerifier("carol-secret").encoded), ("md5user", Hex.encode(md5("md5-secret")))] {
            let connection = try await node.connection()
            await #expect(throws: NodeLinkError.self) { try await connection.login(user: user, derivation: derivation(fake)) }
            await connection.close()
        }
        // A wrong password for the SCRAM user is refused and does not fall back to MD5.
        let wrong = try await node.connection()
        await #expect(throws: NodeLinkError.authenticationFailed("wrong user name or password")) {
            try await wrong.login(user: "carol", derivation: derivation("nope"))
        }
        await wrong.close()
    }

    @Test("LegacyMD5Logins: no refuses the MD5 user with a message naming edfs passwd; SCRAM users still log in")
    func legacyDisabled() async throws {
        let node = try SCRAMNode(legacyMD5Logins: false)
        defer { Task { await node.shutdown() } }
        let legacy = try await node.connection()
        do {
            try await legacy.login(user: "md5user", passwordDigest: md5("md5-secret"))
            Issue.record("MD5 login accepted")
        } catch let NodeLinkError.authenticationFailed(message) {
            #expect(message.contains("LegacyMD5Logins: no") && message.contains("edfs passwd"))
        }
        await legacy.close()
        // Through SCRAM the MD5 user gets the mock (no fallback offered) and fails like a wrong password.
        let viaSCRAM = try await node.connection()
        await #expect(throws: NodeLinkError.self) { try await viaSCRAM.login(user: "md5user", derivation: derivation("md5-secret")) }
        await viaSCRAM.close()
        let carol = try await node.connection()
        try await carol.login(user: "carol", derivation: derivation("carol-secret"))
        await carol.close()
    }

    @Test("a SCRAM login counts against the per-user connection cap like an MD5 login (attack finding)")
    func scramLoginsAreCapped() async throws {
        let node = try SCRAMNode(maxConnectionsPerUser: 2)
        defer { Task { await node.shutdown() } }
        var open: [NodeConnection] = []
        for _ in 0..<2 {
            let connection = try await node.connection()
            try await connection.login(user: "carol", derivation: derivation("carol-secret"))
            open.append(connection)
        }
        let third = try await node.connection()
        do {
            try await third.login(user: "carol", derivation: derivation("carol-secret"))
            Issue.record("a third SCRAM login of one user was served with MaxConnectionsPerUser 2")
        } catch {
            #expect("\(error)".contains("limit exceeded"), "got \(error)")
        }
        await third.close()
        for connection in open { await connection.close() }
    }

    @Test("a node with a wrong ServerKey (it does not hold the verifier) makes the client abort the login")
    func wrongServerSignatureAborts() async throws {
        var forged = try scramVerifier("carol-secret")
        forged.serverKey = Array(repeating: 0x11, count: 32)  // StoredKey right: the proof passes; v= is wrong
        let node = try SCRAMNode(scram: ["carol": forged])
        defer { Task { await node.shutdown() } }
        let connection = try await node.connection()
        do {
            try await connection.login(user: "carol", derivation: derivation("carol-secret"))
            Issue.record("login accepted a wrong server signature")
        } catch let error as LoginError {
            #expect(error == .serverNotProven(node: "S1"))
            #expect(error.description.contains("node S1 could not prove it holds the login verifier"))
        }
        #expect(connection.provenVerifier == nil)
    }

    @Test("an unknown user gets a plausible server-first: same shape, stable salt, a configured user's iterations")
    func unknownUserMock() async throws {
        let guardian = LoginGuard(verifiers: ["carol": .scram(try scramVerifier("carol-secret"))],
                                  throttle: LoginThrottle(baseDelay: .milliseconds(1), maxDelay: .milliseconds(1)))
        func challenge(_ user: String) async throws -> SCRAMServerFirst {
            let first = SCRAMClientFirst(channelBinding: .none, user: user, clientNonce: "clientnonce0123456789")
            guard case let .challenge(state) = await guardian.scramStart(user: user, clientFirst: Array(first.message.utf8),
                                                                         peer: "10.0.0.1", certificateHash: nil) else {
                throw SCRAMError.malformed("refused")
            }
            // What the client sees parses like a real one.
            return try SCRAMServerFirst.parse(Array(state.serverFirst.message.utf8), clientNonce: first.clientNonce)
        }
        let real = try await challenge("carol")
        let ghost = try await challenge("ghost")
        let again = try await challenge("ghost")
        #expect(ghost.salt.count == real.salt.count && ghost.nonce.count == real.nonce.count)
        #expect(ghost.salt == again.salt && ghost.nonce != again.nonce)
        #expect(ghost.iterations == real.iterations)
        #expect(try await challenge("ghost2").salt != ghost.salt)
    }

    @Test("nodes sharing one config give a made-up name the same mock salt and iterations (attack finding: enumeration)")
    func mockAnswersAgreeAcrossNodes() async throws {
        let verifiers: [String: LoginVerifier] = [
            "carol": .scram(try scramVerifier("carol-secret", iterations: 100_000)),
            "dave": .scram(try scramVerifier("dave-secret", salt: Array(repeating: 7, count: 16), iterations: 150_000)),
            "md5user": .md5(md5("md5-secret")),
        ]
        let throttle = LoginThrottle(baseDelay: .milliseconds(1), maxDelay: .milliseconds(1))
        func challenge(_ guardian: LoginGuard, _ user: String) async throws -> SCRAMServerFirst {
            let first = SCRAMClientFirst(channelBinding: .none, user: user, clientNonce: "clientnonce0123456789")
            guard case let .challenge(state) = await guardian.scramStart(user: user, clientFirst: Array(first.message.utf8),
                                                                         peer: "10.0.0.1", certificateHash: nil) else {
                throw SCRAMError.malformed("refused")
            }
            return try SCRAMServerFirst.parse(Array(state.serverFirst.message.utf8), clientNonce: first.clientNonce)
        }
        // Two nodes (or one node before and after a restart) built from the same lines.
        let one = LoginGuard(verifiers: verifiers, throttle: throttle)
        let two = LoginGuard(verifiers: verifiers, throttle: throttle)
        var seen = Set<UInt32>()
        for name in (0..<40).map({ "ghost\($0)" }) {
            let (a, b) = (try await challenge(one, name), try await challenge(two, name))
            #expect(a.salt == b.salt && a.iterations == b.iterations, "\(name) differs between nodes")
            #expect([100_000, 150_000].contains(a.iterations), "\(name): \(a.iterations) is no configured count")
            seen.insert(a.iterations)
        }
        #expect(seen.count == 2, "mock answers should spread over the configured counts")
        // Another cluster's config gives other salts: the key is the config's, not a constant.
        let other = LoginGuard(verifiers: ["carol": .scram(try scramVerifier("other", iterations: 100_000))], throttle: throttle)
        #expect(try await challenge(other, "ghost0").salt != (try await challenge(one, "ghost0")).salt)
    }

    @Test("PasswordDerivation runs PBKDF2 once for 4 nodes with the same verifier, and refuses a lying node's extras")
    func oneDerivationForFourNodes() async throws {
        let nodes = try (0..<4).map { _ in try SCRAMNode() }
        defer { Task { for node in nodes { await node.shutdown() } } }
        let shared = derivation("carol-secret")
        try await withThrowingTaskGroup(of: Void.self) { group in
            for node in nodes {
                group.addTask {
                    let connection = try await node.connection()
                    try await connection.login(user: "carol", derivation: shared)
                    await connection.close()
                }
            }
            try await group.waitForAll()
        }
        #expect(shared.derivationsRun == 1)
        _ = try await shared.saltedPassword(salt: Array(repeating: 1, count: 16), iterations: 100_000)
        await #expect(throws: PasswordDerivationError.tooManyDistinctParameters(limit: 2)) {
            _ = try await shared.saltedPassword(salt: Array(repeating: 2, count: 16), iterations: 100_000)
        }
        await #expect(throws: PasswordDerivationError.iterationsOutOfRange(99_999)) {
            _ = try await shared.saltedPassword(salt: Array(repeating: 1, count: 16), iterations: 99_999)
        }
        #expect(shared.derivationsRun == 2)
    }

    @Test("after a SCRAM login, the client refuses to send an MD5 proof to a node claiming the user is MD5-only")
    func noSilentDowngrade() async throws {
        let scramNode = try SCRAMNode()
        // A node that claims carol has only an MD5 verifier.
        let liar = try SCRAMNode(scram: [:])
        defer { Task { await scramNode.shutdown(); await liar.shutdown() } }
        let shared = derivation("carol-secret")
        let good = try await scramNode.connection()
        try await good.login(user: "carol", derivation: shared)
        await good.close()
        let lying = try await liar.connection()
        // carol is unknown on `liar`: it answers the mock, so the login fails and no MD5 is sent.
        await #expect(throws: NodeLinkError.self) { try await lying.login(user: "carol", derivation: shared) }
        await lying.close()
        // md5user exists as MD5 on both: with SCRAM proven in this command, the fallback is refused.
        let md5Node = try await liar.connection()
        await #expect(throws: LoginError.self) { try await md5Node.login(user: "md5user", derivation: shared) }
        await md5Node.close()
    }

    @Test("SET_VERIFIER method 2 stores a SCRAM verifier that overrides the config line")
    func setSCRAMVerifier() async throws {
        let node = try SCRAMNode()
        defer { Task { await node.shutdown() } }
        let connection = try await node.connection()
        try await connection.login(user: "md5user", derivation: derivation("md5-secret"))
        try await connection.setLoginVerifier(.scram(try scramVerifier("upgraded", salt: Array(repeating: 3, count: 16))))
        await connection.close()
        #expect(node.node.metadata.verifier(user: "md5user") == .verifier(.scram(try scramVerifier("upgraded",
            salt: Array(repeating: 3, count: 16)))))
        let again = try await node.connection()
        try await again.login(user: "md5user", derivation: derivation("upgraded"))
        #expect(again.provenVerifier.map { if case .scram = $0 { true } else { false } } == true)
        await again.close()
        let old = try await node.connection()
        await #expect(throws: NodeLinkError.self) { try await old.login(user: "md5user", passwordDigest: md5("md5-secret")) }
        await old.close()
    }

    @Test("SET_VERIFIER method 2 with bad sizes is refused, not FATAL", arguments: [
        [UInt8](), [0, 1, 0x86, 0xA0, 4] + Array(repeating: 1, count: 4 + 64), [0, 1, 0x86, 0xA0, 16] + Array(repeating: 1, count: 16 + 63),
        [0, 0, 0, 1, 16] + Array(repeating: 1, count: 16 + 64), [0, 1, 0x86, 0xA0, 65] + Array(repeating: 1, count: 65 + 64),
    ])
    func badSetVerifier(_ bytes: [UInt8]) {
        #expect(throws: WireError.self) { try LoginVerifier(wireMethod: 2, bytes: bytes) }
        if let error = ControlRequests.refusal(of: .setVerifier(method: 2, verifier: bytes)) {
            #expect(error.code == .malformed && !error.fatal)
        } else {
            Issue.record("accepted")
        }
    }
}

@Suite("Login throttle hardening")
struct LoginThrottleTests {
    static let throttle = LoginThrottle(baseDelay: .microseconds(1), maxDelay: .microseconds(1), maxFailures: 5,
                                        lockout: .seconds(300), tableSize: 64, addressBudget: 30,
                                        addressRefill: .seconds(10), addressTableSize: 64)

    @Test("many made-up names from one address do not free the throttled pair; the address budget stops them")
    func flushAttempt() async throws {
        let guardian = LoginGuard(digests: ["alice": md5("alice-secret")], throttle: Self.throttle)
        var checkedAgainstAlice = 0
        let began = ContinuousClock.now  // the address budget refills from its first failure on
        for _ in 0..<5 {
            if case .failure(let error, _) = await guardian.attempt(user: "alice", proof: Hex.encode(md5("guess")), peer: "10.9.9.9"),
               error.code == .authenticationFailed { checkedAgainstAlice += 1 }
        }
        var answeredAuthFailed = 0
        for index in 0..<10_000 {
            let outcome = await guardian.attempt(user: "made-up-\(index)", proof: Hex.encode(md5("x")), peer: "10.9.9.9")
            if case .failure(let error, _) = outcome, error.code == .authenticationFailed { answeredAuthFailed += 1 }
        }
        // Only the address's budget (30, of which alice's 5 were spent) was ever checked, plus one refill per 10 s
        // this loop took on a loaded machine; the rest were throttled.
        let refills = Int((ContinuousClock.now - began).components.seconds / 10) + 1
        #expect((25...(25 + refills)).contains(answeredAuthFailed), "\(answeredAuthFailed) checked in \(refills * 10)+ s")
        #expect(guardian.rememberedPairs <= 64)
        // The pair stays locked; even the right password is not checked from that address.
        let outcome = await guardian.attempt(user: "alice", proof: Hex.encode(md5("alice-secret")), peer: "10.9.9.9")
        #expect(outcome == .failure(LoginGuard.throttledError, failuresInARow: 5))
        #expect(checkedAgainstAlice == 5)
        print("flush attempt: 5 guesses against alice, then 10,000 made-up names: \(answeredAuthFailed) checked, "
            + "\(10_000 - answeredAuthFailed) throttled; alice's pair still locked")
    }

    @Test("made-up names from many addresses cannot evict a locked pair from a full table")
    func distributedFlushAttempt() async throws {
        let guardian = LoginGuard(digests: ["alice": md5("alice-secret")], throttle: Self.throttle)
        for _ in 0..<5 { _ = await guardian.attempt(user: "alice", proof: Hex.encode(md5("guess")), peer: "10.9.9.9") }
        for index in 0..<2_000 {
            _ = await guardian.attempt(user: "ghost\(index)", proof: Hex.encode(md5("x")), peer: "10.1.\(index / 250).\(index % 250)")
        }
        #expect(guardian.rememberedPairs == 64 && guardian.rememberedAddresses <= 64)
        let outcome = await guardian.attempt(user: "alice", proof: Hex.encode(md5("alice-secret")), peer: "10.9.9.9")
        #expect(outcome == .failure(LoginGuard.throttledError, failuresInARow: 5))
    }

    @Test("wrong guesses from address A do not lock the real user out from address B (MD5 and SCRAM)")
    func lockoutAttempt() async throws {
        let guardian = LoginGuard(verifiers: ["alice": .md5(md5("alice-secret")), "carol": .scram(try scramVerifier("carol-secret"))],
                                  throttle: Self.throttle)
        for _ in 0..<20 {
            _ = await guardian.attempt(user: "alice", proof: Hex.encode(md5("guess")), peer: "203.0.113.7")
        }
        #expect(await guardian.attempt(user: "alice", proof: Hex.encode(md5("alice-secret")), peer: "203.0.113.7")
            == .failure(LoginGuard.throttledError, failuresInARow: 5))
        #expect(await guardian.attempt(user: "alice", proof: Hex.encode(md5("alice-secret")), peer: "198.51.100.2") == .success)

        // SCRAM: five failed exchanges for carol from A; carol from B still logs in.
        func exchange(_ password: String, peer: String) async throws -> Bool {
            let first = SCRAMClientFirst(channelBinding: .none, user: "carol", clientNonce: "abcdefghijklmnop")
            guard case let .challenge(state) = await guardian.scramStart(user: "carol", clientFirst: Array(first.message.utf8),
                                                                         peer: peer, certificateHash: nil) else { return false }
            let salted = try SCRAM.saltedPassword(password: SecureBytes(copying: Array(password.utf8)),
                                                  salt: state.serverFirst.salt, iterations: state.serverFirst.iterations)
            var final = SCRAMClientFinal(channelBinding: Array("n,,".utf8), nonce: state.serverFirst.nonce, proof: [])
            final.proof = try SCRAM.clientProof(saltedPassword: salted, authMessage: scramAuthMessage(
                clientFirst: first, serverFirst: state.serverFirst, clientFinalWithoutProof: final.withoutProof))
            if case .success = await guardian.scramFinish(state, clientFinal: Array(final.message.utf8), peer: peer) { return true }
            return false
        }
        for _ in 0..<5 { #expect(try await !exchange("guess", peer: "203.0.113.8")) }
        #expect(try await !exchange("carol-secret", peer: "203.0.113.8"))  // locked there
        #expect(try await exchange("carol-secret", peer: "198.51.100.2"))
    }
}

@Suite("SCRAM channel binding over TLS")
struct SCRAMChannelBindingTests {
    /// One raw SCRAM exchange as `carol` with the given gs2 flag and binding data; returns the last frame.
    static func rawExchange(_ node: TestNode, binding: SCRAMChannelBinding, data: [UInt8]) async throws
        -> (header: WireFrameHeader, payload: [UInt8])? {
        let raw = try await RawClient.connect(port: node.port, caFile: node.keys + "/ca.crt")
        defer { Task { await raw.close() } }
        try await raw.sendRequest(.hello(versions: [1], client: "raw"), id: 1)
        _ = try await raw.receiveFrame()
        let first = SCRAMClientFirst(channelBinding: binding, user: "carol", clientNonce: "rawclientnonce0123")
        try await raw.sendRequest(.login(method: 2, user: "carol", proof: first.message), id: 2)
        let reply = try #require(try await raw.receiveFrame())
        guard reply.header.type == WireFrameType.login.reply,
              case let .loginChallenge(text)? = try WireReply.decode(type: reply.header.type, payload: reply.payload) else {
            return reply
        }
        let serverFirst = try SCRAMServerFirst.parse(Array(text.utf8), clientNonce: first.clientNonce)
        let salted = try SCRAM.saltedPassword(password: SecureBytes(copying: Array("carol-secret".utf8)),
                                              salt: serverFirst.salt, iterations: serverFirst.iterations)
        var final = SCRAMClientFinal(channelBinding: binding.bindingInput(data: data), nonce: serverFirst.nonce, proof: [])
        final.proof = try SCRAM.clientProof(saltedPassword: salted, authMessage: scramAuthMessage(
            clientFirst: first, serverFirst: serverFirst, clientFinalWithoutProof: final.withoutProof))
        try await raw.sendRequest(.loginContinue(message: final.message), id: 3)
        return try await raw.receiveFrame()
    }

    @Test("over real TLS the client binds to the certificate and logs in; a wrong hash, n or y is refused")
    func bindingOverTLS() async throws {
        let node = try await TestNode(scramUsers: ["carol": try scramVerifier("carol-secret")])
        defer { Task { await node.stop() } }
        let connection = try await NodeConnection.connect(host: "127.0.0.1", port: node.port, trust: node.trust,
                                                          options: .forTests)
        try await connection.login(user: "carol", derivation: derivation("carol-secret"))
        _ = try await connection.status()
        await connection.close()

        let der = try #require(try NIOSSLCertificate.fromPEMFile(node.keys + "/N1.crt").first).toDERBytes()
        let rightHash = Digest.sha256(der)
        let good = try await Self.rawExchange(node, binding: .tlsServerEndPoint, data: rightHash)
        #expect(good?.header.type == WireFrameType.loginContinue.reply)
        let mismatched = try await Self.rawExchange(node, binding: .tlsServerEndPoint, data: Digest.sha256(rightHash))
        #expect(wireError(mismatched)?.code == .authenticationFailed)
        for downgrade in [SCRAMChannelBinding.none, .clientSupportsButNotUsed] {
            let refused = try await Self.rawExchange(node, binding: downgrade, data: [])
            #expect(wireError(refused)?.code == .authenticationFailed)
        }
    }
}
