import EDFSCrypto
import EDFSFormat
import Logging
import NIOCore
import NIOSSL

/// Why a login could not be completed for a reason other than a refused password.
public enum LoginError: Error, Equatable, Sendable, CustomStringConvertible {
    /// The node answered a wrong ServerSignature: it does not hold the user's verifier (or someone is in between).
    case serverNotProven(node: String)
    /// The node sent a SCRAM message that does not parse or does not continue the exchange.
    case badServerMessage(node: String, reason: String)
    /// The node asked for a legacy MD5 login where the client will not send one (SCRAM already proven in this
    /// command, or legacy logins disabled in the client).
    case legacyRefused(node: String, reason: String)

    public var description: String {
        switch self {
        case let .serverNotProven(node):
            return "node \(node) could not prove it holds the login verifier (wrong SCRAM server signature); "
                + "login aborted"
        case let .badServerMessage(node, reason):
            return "node \(node) sent a bad SCRAM message (\(reason)); login aborted"
        case let .legacyRefused(node, reason):
            return "node \(node) asked for a legacy MD5 login, which the client refuses: \(reason)"
        }
    }
}

extension NodeConnection {
    /// Logs in as `user`: SCRAM-SHA-256 first (bound to the TLS certificate over TLS, unbound on a local socket);
    /// legacy MD5 only when the node answers that this user has only an MD5 verifier there, and never once a SCRAM
    /// login succeeded in this command (`derivation.scramProven`) or when `allowLegacyMD5` is false. A wrong server
    /// signature throws `LoginError.serverNotProven`. On success `provenVerifier` holds what the login proved.
    public func login(user: String, derivation: PasswordDerivation, allowLegacyMD5: Bool = true) async throws {
        let nonce = Base64.encode(try SecureRandom.bytes(24))
        let certificateHash = try await peerCertificateHash()
        let first = SCRAMClientFirst(channelBinding: certificateHash == nil ? .none : .tlsServerEndPoint,
                                     user: user, clientNonce: nonce)
        let reply: WireReply
        do {
            reply = try await core.call(.login(method: WireRequest.loginMethodSCRAM, user: user, proof: first.message))
        } catch let NodeLinkError.refused(code, message) where code == .useLegacyLogin {
            guard allowLegacyMD5 else { throw LoginError.legacyRefused(node: nodeName, reason: "legacy logins are disabled") }
            guard !derivation.scramProven else {
                throw LoginError.legacyRefused(node: nodeName, reason: "another node already proved a SCRAM verifier for "
                    + "this user in this command, so this one may be lying to obtain the MD5 digest (\(message))")
            }
            let digest = derivation.legacyMD5Digest
            try await login(user: user, passwordDigest: digest)
            setProvenVerifier(.md5(digest))
            return
        }
        guard case let .loginChallenge(serverFirstText) = reply else {
            throw LoginError.badServerMessage(node: nodeName, reason: "LOGIN_OK without a server-first-message")
        }
        let serverFirst: SCRAMServerFirst
        do {
            serverFirst = try SCRAMServerFirst.parse(Array(serverFirstText.utf8), clientNonce: nonce)
        } catch {
            throw LoginError.badServerMessage(node: nodeName, reason: error.reason)
        }
        let salted = try await derivation.saltedPassword(salt: serverFirst.salt, iterations: serverFirst.iterations)
        var final = SCRAMClientFinal(channelBinding: first.channelBinding.bindingInput(data: certificateHash ?? []),
                                     nonce: serverFirst.nonce, proof: [])
        let authMessage = scramAuthMessage(clientFirst: first, serverFirst: serverFirst,
                                           clientFinalWithoutProof: final.withoutProof)
        final.proof = try SCRAM.clientProof(saltedPassword: salted, authMessage: authMessage)
        let verifier = try SCRAMVerifier(saltedPassword: salted, salt: serverFirst.salt, iterations: serverFirst.iterations)
        guard case let .loginContinue(serverFinalText) = try await core.call(.loginContinue(message: final.message)) else {
            throw LoginError.badServerMessage(node: nodeName, reason: "bad LOGIN_CONTINUE_OK")
        }
        let expected = SCRAM.serverSignature(serverKey: try SymmetricKey(copying: verifier.serverKey), authMessage: authMessage)
        switch try? SCRAMServerFinal.parse(Array(serverFinalText.utf8)) {
        case let .verifier(signature)? where SCRAM.signaturesMatch(signature, expected):
            derivation.noteSCRAMProven()
            setProvenVerifier(.scram(verifier))
        default:
            await close()
            throw LoginError.serverNotProven(node: nodeName)
        }
    }

    /// SHA-256 of the node's certificate (DER) over TLS, the `tls-server-end-point` binding (RFC 5929); nil on a
    /// connection without TLS (the local socket seam).
    func peerCertificateHash() async throws -> [UInt8]? {
        let channel = core.channel
        let certificate: NIOSSLCertificate?
        do {
            certificate = try await channel.eventLoop.submit { () throws -> NIOSSLCertificate? in
                guard let handler = try? channel.pipeline.syncOperations.handler(type: NIOSSLClientHandler.self) else {
                    return nil
                }
                guard let peer = handler.peerCertificate else {
                    throw LoginError.badServerMessage(node: "node", reason: "TLS without a peer certificate")
                }
                return peer
            }.get()
        } catch {
            throw NodeConnectionError.tlsFailed(node: address, reason: "no peer certificate for channel binding")
        }
        guard let certificate else { return nil }
        return Digest.sha256(try certificate.toDERBytes())
    }

    /// Connects over TLS and logs in with `derivation`; closes the connection if the login fails.
    public static func open(host: String, port: Int, trust: NodeTLSTrust, user: String, derivation: PasswordDerivation,
                            options: Options = Options()) async throws -> NodeConnection {
        try await connect(host: host, port: port, trust: trust, options: options)
            .loggedIn(user: user, derivation: derivation)
    }

    /// Connects over a local socket and logs in with `derivation`; closes the connection if the login fails.
    public static func open(localDescriptor descriptor: Int32, label: String = "local socket", user: String,
                            derivation: PasswordDerivation, options: Options = Options()) async throws -> NodeConnection {
        try await connect(localDescriptor: descriptor, label: label, options: options)
            .loggedIn(user: user, derivation: derivation)
    }

    private func loggedIn(user: String, derivation: PasswordDerivation) async throws -> NodeConnection {
        do {
            try await login(user: user, derivation: derivation, allowLegacyMD5: options.allowLegacyMD5)
        } catch {
            ClientLog.logger.debug("\(nodeName) (\(address)): login refused: \(String(reflecting: error))")
            await close()
            throw error
        }
        ClientLog.logger.debug("\(nodeName) (\(address)): logged in as \(user)")
        return self
    }

    /// A `NodeConnector` for `ClusterSession`: trusts the config's CA file and logs every node in as `user`, all
    /// with the one `derivation` (so each PBKDF2 runs once for the command).
    public static func connector(config: ClusterConfig, user: String, derivation: PasswordDerivation,
                                 options: Options = Options()) -> NodeConnector {
        let trust = Result { () throws(NodeConnectionError) -> NodeTLSTrust in try NodeTLSTrust(caFile: config.caFile) }
        return { _, server in
            try await open(host: server.host, port: server.port, trust: trust.get(), user: user,
                           derivation: derivation, options: options)
        }
    }

    /// `connector(config:user:derivation:)` with a trust already made (a command checks the CA before it asks for
    /// the password).
    public static func connector(trust: NodeTLSTrust, user: String, derivation: PasswordDerivation,
                                 options: Options = Options()) -> NodeConnector {
        { _, server in
            try await open(host: server.host, port: server.port, trust: trust, user: user, derivation: derivation,
                           options: options)
        }
    }

    /// `connector(config:user:derivation:)` with a new derivation of `password`.
    public static func connector(config: ClusterConfig, user: String, password: SecureBytes,
                                 options: Options = Options()) -> NodeConnector {
        connector(config: config, user: user, derivation: PasswordDerivation(password: password), options: options)
    }

    /// Replaces this user's login verifier on the node (`edfs passwd`).
    public func setLoginVerifier(_ verifier: LoginVerifier) async throws {
        if case let .md5(digest) = verifier, digest.count != 16 {
            throw NodeConnectionError.invalidRequest("a legacy verifier is 16 bytes")
        }
        _ = try await core.call(.setVerifier(verifier))
    }
}
