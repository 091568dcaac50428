import EDFSCrypto
import EDFSFormat

/// How failed logins are slowed down and then refused (docs/PROTOCOL.md, "Login throttling"). Two rules:
/// - per (user, peer address): each failure in a row is answered after a delay doubling from `baseDelay` to
///   `maxDelay`; after `maxFailures` the pair is refused for `lockout`. Only that pair: the same user from another
///   address is not affected.
/// - per peer address: every failure from the address, for any name (known or made up), spends one of
///   `addressBudget` tokens, which come back at one per `addressRefill`; an address with no token left is refused
///   for every name until one comes back.
/// Both tables are bounded and, when full, forget the least suspicious entry, never a locked one while another
/// can go: failures for made-up names cannot flush a throttled pair.
public struct LoginThrottle: Sendable, Equatable {
    /// Delay before answering the first failure; it doubles with each failure in a row.
    public var baseDelay: Duration
    /// Longest delay before answering a failure.
    public var maxDelay: Duration
    /// Failures in a row after which the pair is refused outright.
    public var maxFailures: Int
    /// How long the pair is refused.
    public var lockout: Duration
    /// Most (user, address) pairs remembered.
    public var tableSize: Int
    /// Failures one address may make before it is refused (the bucket's size).
    public var addressBudget: Int
    /// Time for one failure token of an address to come back.
    public var addressRefill: Duration
    /// Most addresses remembered.
    public var addressTableSize: Int

    public init(baseDelay: Duration = .milliseconds(250), maxDelay: Duration = .seconds(4), maxFailures: Int = 5,
                lockout: Duration = .seconds(300), tableSize: Int = 4096, addressBudget: Int = 30,
                addressRefill: Duration = .seconds(10), addressTableSize: Int = 4096) {
        self.baseDelay = baseDelay
        self.maxDelay = maxDelay
        self.maxFailures = maxFailures
        self.lockout = lockout
        self.tableSize = tableSize
        self.addressBudget = addressBudget
        self.addressRefill = addressRefill
        self.addressTableSize = addressTableSize
    }
}

/// Checks logins — legacy MD5 (method 1) and SCRAM-SHA-256 (method 2) — against the config's verifiers or the
/// ones stored by `edfs passwd`, in constant time, and throttles failures (`LoginThrottle`). An unknown user takes
/// the path of a wrong password: MD5 compares against a dummy digest, SCRAM gets a mock server-first-message
/// (salt = HMAC of the name under a per-node secret, default iterations) and fails at the proof.
public final class LoginGuard: Sendable {
    /// The one answer every failed proof gets.
    static let failure = WireError(.authenticationFailed, "wrong user name or password")
    static let throttledError = WireError(.throttled, "too many failed logins; try again later")
    static let legacyDisabled = WireError(
        .authenticationFailed, "this node refuses legacy MD5 logins (LegacyMD5Logins: no); have the user run "
            + "`edfs passwd` against a node that still accepts them, or give the user a SCRAM verifier made with "
            + "`edfs user add NAME`")
    static let useLegacy = WireError(.useLegacyLogin, "this user has a legacy MD5 verifier on this node; "
        + "log in with method 1, then run `edfs passwd` to upgrade it to SCRAM")

    private struct PairEntry {
        var failures = 0
        var lockedUntil: ContinuousClock.Instant?
        var lastFailure: ContinuousClock.Instant
    }

    private struct AddressEntry {
        var tokens: Double
        var updated: ContinuousClock.Instant
    }

    private struct Key: Hashable {
        let user: String
        let peer: String
    }

    private struct Tables {
        var pairs: [Key: PairEntry] = [:]
        var addresses: [String: AddressEntry] = [:]
    }

    private let verifiers: [String: LoginVerifier]
    /// A verifier stored by `edfs passwd`, which overrides the config's line for a configured user.
    private let storedVerifier: @Sendable (String) -> MetadataStore.StoredVerifier
    private let dummyDigest: [UInt8]
    /// Keys the mock salts of unknown SCRAM users, and the dummy StoredKey they are checked against.
    private let mockSecret: SymmetricKey
    private let throttle: LoginThrottle
    /// Whether method 1 is accepted at all (`LegacyMD5Logins:`).
    let legacyMD5Logins: Bool
    /// Iterations of mock server-first-messages when no user has a SCRAM verifier.
    let mockIterations: UInt32
    /// The configured SCRAM users' iteration counts: a mock answer takes one of them (chosen by the name), so an
    /// unusual count does not single out a real user.
    private let mockIterationChoices: [UInt32]
    private let tables = PthreadMutex(Tables())

    /// `verifiers`: user name → login verifier (MD5 digest or SCRAM verifier).
    public init(verifiers: [String: LoginVerifier], throttle: LoginThrottle, legacyMD5Logins: Bool = true,
                mockIterations: UInt32 = PBKDF2.defaultIterations,
                storedVerifier: @escaping @Sendable (String) -> MetadataStore.StoredVerifier = { _ in .none }) {
        self.verifiers = verifiers
        self.storedVerifier = storedVerifier
        self.throttle = throttle
        self.legacyMD5Logins = legacyMD5Logins
        self.mockIterations = mockIterations
        var generator = SystemRandomNumberGenerator()
        dummyDigest = (0..<16).map { _ in UInt8.random(in: 0...255, using: &generator) }
        mockSecret = Self.mockKey(verifiers: verifiers)
        mockIterationChoices = verifiers.values.compactMap { verifier -> UInt32? in
            if case let .scram(scram) = verifier { return scram.iterations }
            return nil
        }.sorted()
    }

    /// The key of the mock answers for names without a SCRAM verifier: derived from every `Password:` line of the
    /// config, so that every node sharing one dfs.conf gives a name the same mock salt (before, a per-node random key
    /// told real users — same salt on every node — from made-up names), and a restart changes nothing. Someone without
    /// the config cannot compute it; someone with the config knows the users anyway. With no line at all, random.
    static func mockKey(verifiers: [String: LoginVerifier]) -> SymmetricKey {
        guard !verifiers.isEmpty else {
            let secret = (try? SecureRandom.bytes(32)) ?? (0..<32).map { _ in UInt8.random(in: 0...255) }
            return (try? SymmetricKey(copying: secret)) ?? LoginGuard.fallbackKey()
        }
        var material = Array("edfs scram mock key v1\u{0}".utf8)
        for (user, verifier) in verifiers.sorted(by: { $0.key < $1.key }) {
            material += Array(user.utf8) + [0] + Array(verifier.configValue.utf8) + [0x0A]
        }
        defer { secureWipe(&material) }
        let digest = Digest.sha256(material)
        // 32 bytes make a key: the initializer cannot fail.
        return (try? SymmetricKey(copying: digest)) ?? LoginGuard.fallbackKey()
    }

    /// `digests`: user name → MD5 of the password (16 bytes); every user is a legacy user.
    public convenience init(digests: [String: [UInt8]], throttle: LoginThrottle,
                            storedVerifier: @escaping @Sendable (String) -> MetadataStore.StoredVerifier = { _ in .none }) {
        self.init(verifiers: digests.mapValues(LoginVerifier.md5), throttle: throttle, storedVerifier: storedVerifier)
    }

    private static func fallbackKey() -> SymmetricKey {
        // Unreachable: SymmetricKey(copying:) only fails for a length other than 32.
        preconditionFailure("a 32-byte key could not be made")
    }

    /// The result of one attempt.
    public enum Outcome: Sendable, Equatable {
        case success
        /// Refused with this error, after the throttle delay (already waited by the call).
        case failure(WireError, failuresInARow: Int)
    }

    // MARK: Verifier lookup

    /// The verifier that applies to `user`: the stored one overrides the config's; nil for an unknown user or a
    /// damaged stored verifier (fail closed: never fall back to an older password). The stored verifier is looked
    /// up for every valid name, known or not, so both paths cost the same.
    private func verifier(for user: String) -> LoginVerifier? {
        let stored = NameRules.isValidUserName(user) ? storedVerifier(user) : .none
        guard let configured = verifiers[user] else { return nil }
        switch stored {
        case .none: return configured
        case let .verifier(verifier): return verifier
        case .damaged: return nil
        }
    }

    // MARK: Method 1, legacy MD5

    /// Checks `proof` (32 hex digits of MD5(password)) for `user` coming from `peer` (an address without port),
    /// waiting out the throttle delay before answering a failure.
    public func attempt(user: String, proof: String, peer: String) async -> Outcome {
        let key = Self.key(user, peer)
        if let refusal = refusal(key) { return refusal }
        guard legacyMD5Logins else {
            // Said to every name alike, so it reveals nothing about the user; spends the address budget.
            return await failed(key, error: Self.legacyDisabled).outcome
        }
        let known: [UInt8]? = if case let .md5(digest)? = verifier(for: user) { digest } else { nil }
        let expected = known ?? dummyDigest
        let given = Hex.decode(proof).flatMap { $0.count == 16 ? $0 : nil }
        let matches = ConstantTime.equals(expected, given ?? dummyDigest.map { ~$0 })
        if matches, known != nil, given != nil {
            succeeded(key)
            return .success
        }
        return await failed(key, error: Self.failure).outcome
    }

    // MARK: Method 2, SCRAM-SHA-256

    /// What the node keeps between the two SCRAM round trips of one connection.
    public struct SCRAMState: Sendable {
        let user: String
        let clientFirst: SCRAMClientFirst
        let serverFirst: SCRAMServerFirst
        /// Nil for an unknown user (the mock): the proof is then checked against a dummy and always fails.
        let verifier: SCRAMVerifier?
        let expectedBinding: [UInt8]
    }

    /// The answer to the first SCRAM message.
    public enum SCRAMStart: Sendable {
        /// Send `state.serverFirst`, keep `state` for `scramFinish`.
        case challenge(SCRAMState)
        case refused(WireError)
    }

    /// Checks a client-first-message for `user` from `peer`. `certificateHash` is the SHA-256 of the node's
    /// certificate over TLS (then the client must bind with `p=tls-server-end-point`), nil on the local socket seam
    /// (then only `n` is accepted). An unknown user gets a plausible mock challenge.
    public func scramStart(user: String, clientFirst bytes: [UInt8], peer: String, certificateHash: [UInt8]?,
                           serverNonce: String? = nil) async -> SCRAMStart {
        let key = Self.key(user, peer)
        if case let .failure(error, _)? = refusal(key) { return .refused(error) }
        let first: SCRAMClientFirst
        do {
            first = try SCRAMClientFirst.parse(bytes)
        } catch {
            return .refused(WireError(.malformed, "LOGIN: \(error.description)"))
        }
        guard first.user == user else {
            return .refused(WireError(.malformed, "LOGIN: the SCRAM user name differs from the LOGIN user name"))
        }
        let expectedBinding: [UInt8]
        switch (first.channelBinding, certificateHash) {
        case (.tlsServerEndPoint, let hash?):
            expectedBinding = first.channelBinding.bindingInput(data: hash)
        case (_, _?):
            // Over TLS an unbound login is a downgrade: refuse it like a wrong password.
            return .refused((await failed(key, error: WireError(.authenticationFailed,
                "this node requires SCRAM channel binding p=tls-server-end-point over TLS"))).error)
        case (.none, nil):
            expectedBinding = first.channelBinding.bindingInput(data: [])
        case (_, nil):
            return .refused(WireError(.authenticationFailed, "no channel binding is possible on this connection (use n)"))
        }
        let verifier: SCRAMVerifier?
        switch self.verifier(for: user) {
        case let .scram(scram)?:
            verifier = scram
        case .md5? where legacyMD5Logins:
            return .refused(Self.useLegacy)
        default:
            verifier = nil  // unknown user, damaged stored verifier, or MD5 user with MD5 refused: the mock
        }
        let salt = verifier?.salt ?? mockSalt(user: user)
        let iterations = verifier?.iterations ?? mockIterations(user: user)
        let nonce = first.clientNonce + (serverNonce ?? Self.randomNonce())
        let serverFirst = SCRAMServerFirst(nonce: nonce, salt: salt, iterations: iterations)
        return .challenge(SCRAMState(user: user, clientFirst: first, serverFirst: serverFirst, verifier: verifier,
                                     expectedBinding: expectedBinding))
    }

    /// Checks the client-final-message; on success returns the server-final-message (`v=`).
    public func scramFinish(_ state: SCRAMState, clientFinal bytes: [UInt8], peer: String) async -> Result<String, WireError> {
        let key = Self.key(state.user, peer)
        if case let .failure(error, _)? = refusal(key) { return .failure(error) }
        let final: SCRAMClientFinal
        do {
            final = try SCRAMClientFinal.parse(bytes)
        } catch {
            return .failure((await failed(key, error: Self.failure)).error)
        }
        let authMessage = scramAuthMessage(clientFirst: state.clientFirst, serverFirst: state.serverFirst,
                                           clientFinalWithoutProof: final.withoutProof)
        let storedKey = (state.verifier?.storedKey).flatMap { try? SymmetricKey(copying: $0) } ?? mockSecret
        let proofOK = SCRAM.verifyProof(final.proof, storedKey: storedKey, authMessage: authMessage)
        let bindingOK = ConstantTime.equals(final.channelBinding, state.expectedBinding)
        let nonceOK = final.nonce == state.serverFirst.nonce
        guard proofOK, bindingOK, nonceOK, let verifier = state.verifier,
              let serverKey = try? SymmetricKey(copying: verifier.serverKey) else {
            return .failure((await failed(key, error: Self.failure)).error)
        }
        succeeded(key)
        return .success(SCRAMServerFinal.verifier(SCRAM.serverSignature(serverKey: serverKey, authMessage: authMessage)).message)
    }

    /// A deterministic salt for a name no SCRAM verifier exists for: the same name always gets the same salt from
    /// this node, so asking twice does not tell a mock from a real user.
    func mockSalt(user: String) -> [UInt8] {
        Array(Digest.hmacSHA256(key: mockSecret, Array("edfs scram mock salt\u{0}".utf8) + Array(user.utf8)).prefix(16))
    }

    /// The iteration count of a mock answer for `user`: one of the configured SCRAM users' counts, the same for the
    /// same name on every node.
    func mockIterations(user: String) -> UInt32 {
        guard !mockIterationChoices.isEmpty else { return mockIterations }
        let pick = Digest.hmacSHA256(key: mockSecret, Array("edfs scram mock iterations\u{0}".utf8) + Array(user.utf8))
        let index = pick.prefix(8).reduce(UInt64(0)) { $0 << 8 | UInt64($1) } % UInt64(mockIterationChoices.count)
        return mockIterationChoices[Int(index)]
    }

    static func randomNonce() -> String {
        let bytes = (try? SecureRandom.bytes(18)) ?? (0..<18).map { _ in UInt8.random(in: 0...255) }
        return Base64.encode(bytes)
    }

    // MARK: Throttle

    private static func key(_ user: String, _ peer: String) -> Key {
        Key(user: String(decoding: user.utf8.prefix(NameRules.maxNameLength), as: UTF8.self), peer: peer)
    }

    /// `throttled` when the pair is locked or the address has no failure left; clears an expired lock.
    private func refusal(_ key: Key) -> Outcome? {
        let now = ContinuousClock.now
        let refused = tables.withLock { t -> Bool in
            if let address = t.addresses[key.peer], refilled(address, now: now).tokens < 1 { return true }
            guard var entry = t.pairs[key], let until = entry.lockedUntil else { return false }
            if until > now { return true }
            entry.failures = 0
            entry.lockedUntil = nil
            t.pairs[key] = entry
            return false
        }
        return refused ? .failure(Self.throttledError, failuresInARow: throttle.maxFailures) : nil
    }

    private func refilled(_ entry: AddressEntry, now: ContinuousClock.Instant) -> AddressEntry {
        let refill = throttle.addressRefill / .nanoseconds(1)
        let elapsed = (now - entry.updated) / .nanoseconds(1)
        let tokens = refill > 0 ? min(Double(throttle.addressBudget), entry.tokens + elapsed / refill)
            : Double(throttle.addressBudget)
        return AddressEntry(tokens: tokens, updated: now)
    }

    private func succeeded(_ key: Key) {
        tables.withLock { _ = $0.pairs.removeValue(forKey: key) }
    }

    /// Records a failure for the pair and the address, waits the pair's delay, and answers `error`.
    private func failed(_ key: Key, error: WireError) async -> (error: WireError, outcome: Outcome) {
        let now = ContinuousClock.now
        let failures = tables.withLock { t -> Int in
            // The address: spend one token.
            var address = t.addresses[key.peer].map { refilled($0, now: now) }
                ?? AddressEntry(tokens: Double(throttle.addressBudget), updated: now)
            address.tokens = max(0, address.tokens - 1)
            if t.addresses[key.peer] == nil, t.addresses.count >= throttle.addressTableSize {
                // Forget the least suspicious address: the one with the most tokens left.
                if let victim = t.addresses.max(by: { refilled($0.value, now: now).tokens < refilled($1.value, now: now).tokens })?.key {
                    t.addresses.removeValue(forKey: victim)
                }
            }
            t.addresses[key.peer] = address

            // The pair.
            var entry = t.pairs[key] ?? PairEntry(lastFailure: now)
            entry.failures += 1
            entry.lastFailure = now
            if entry.failures >= throttle.maxFailures { entry.lockedUntil = now + throttle.lockout }
            if t.pairs[key] == nil, t.pairs.count >= throttle.tableSize {
                evictPair(&t.pairs, now: now)
            }
            t.pairs[key] = entry
            return entry.failures
        }
        try? await Task.sleep(for: delay(afterFailures: failures))
        return (error, .failure(error, failuresInARow: failures))
    }

    /// Forgets one pair of a full table: an expired lock or the entry with the fewest failures (oldest first);
    /// a locked pair only when every pair is locked, then the one whose lock ends first.
    private func evictPair(_ pairs: inout [Key: PairEntry], now: ContinuousClock.Instant) {
        func isLocked(_ entry: PairEntry) -> Bool { entry.lockedUntil.map { $0 > now } ?? false }
        let victim = pairs.min { a, b in
            let (lockedA, lockedB) = (isLocked(a.value), isLocked(b.value))
            if lockedA != lockedB { return !lockedA }
            if lockedA { return (a.value.lockedUntil ?? now) < (b.value.lockedUntil ?? now) }
            if a.value.failures != b.value.failures { return a.value.failures < b.value.failures }
            return a.value.lastFailure < b.value.lastFailure
        }
        if let victim { pairs.removeValue(forKey: victim.key) }
    }

    /// The wait before answering the `failures`-th failure in a row.
    func delay(afterFailures failures: Int) -> Duration {
        var delay = throttle.baseDelay
        var step = 1
        while step < failures, delay < throttle.maxDelay {
            delay *= 2
            step += 1
        }
        return min(delay, throttle.maxDelay)
    }

    /// (user, address) pairs locked out now, and addresses with no failure left now (for metrics). Walks both
    /// tables (each at most `tableSize` / `addressTableSize` entries) under the lock.
    var throttledNow: (pairs: Int, addresses: Int) {
        let now = ContinuousClock.now
        return tables.withLock { t in
            let pairs = t.pairs.values.count { entry in entry.lockedUntil.map { $0 > now } ?? false }
            let addresses = t.addresses.values.count { refilled($0, now: now).tokens < 1 }
            return (pairs, addresses)
        }
    }

    /// Pairs remembered now (for tests).
    var rememberedPairs: Int { tables.withLock { $0.pairs.count } }
    /// Addresses remembered now (for tests).
    var rememberedAddresses: Int { tables.withLock { $0.addresses.count } }
}

extension LoginGuard.Outcome {
    /// The error of a failure (for internal plumbing).
    var error: WireError? {
        if case let .failure(error, _) = self { return error }
        return nil
    }
}
