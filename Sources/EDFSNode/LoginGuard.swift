import EDFSCrypto
import EDFSFormat
import Synchronization

/// How failed logins are slowed down and then refused, per (user, peer address).
public struct LoginThrottle: Sendable, Equatable {
    /// Delay before answering the first failure; it doubles with each failure in a row.
    public var baseDelay: Duration
    /// Longest delay before answering a failure.
    public var maxDelay: Duration
    /// Failures in a row after which the pair is refused outright.
    public var maxFailures: Int
    /// How long the pair is refused.
    public var lockout: Duration
    /// Most (user, address) pairs remembered; the least recently failed is forgotten first.
    public var tableSize: Int

    public init(baseDelay: Duration = .milliseconds(250), maxDelay: Duration = .seconds(4), maxFailures: Int = 5,
                lockout: Duration = .seconds(300), tableSize: Int = 4096) {
        self.baseDelay = baseDelay
        self.maxDelay = maxDelay
        self.maxFailures = maxFailures
        self.lockout = lockout
        self.tableSize = tableSize
    }
}

/// Checks legacy MD5 logins against the config's digests in constant time, and throttles failures.
/// An unknown user takes exactly the path of a wrong password: compared against a dummy digest, same answer,
/// same delay.
public final class LoginGuard: Sendable {
    /// The one answer every failed proof gets.
    static let failure = WireError(.authenticationFailed, "wrong user name or password")

    private struct Entry {
        var failures = 0
        var lockedUntil: ContinuousClock.Instant?
        var lastFailure: ContinuousClock.Instant
    }

    private struct Key: Hashable {
        let user: String
        let peer: String
    }

    private let digests: [String: [UInt8]]
    /// A verifier stored by `edfs passwd`, which overrides the config's digest for a configured user.
    private let storedVerifier: @Sendable (String) -> MetadataStore.StoredVerifier
    private let dummyDigest: [UInt8]
    private let throttle: LoginThrottle
    private let table = Mutex<[Key: Entry]>([:])

    /// `digests`: user name → MD5 of the password (16 bytes).
    public init(digests: [String: [UInt8]], throttle: LoginThrottle,
                storedVerifier: @escaping @Sendable (String) -> MetadataStore.StoredVerifier = { _ in .none }) {
        self.digests = digests
        self.storedVerifier = storedVerifier
        self.throttle = throttle
        var generator = SystemRandomNumberGenerator()
        dummyDigest = (0..<16).map { _ in UInt8.random(in: 0...255, using: &generator) }
    }

    /// The result of one attempt.
    public enum Outcome: Sendable, Equatable {
        case success
        /// Refused with this error, after `delay` (already waited by `attempt`).
        case failure(WireError, failuresInARow: Int)
    }

    /// Checks `proof` (32 hex digits of MD5(password)) for `user` coming from `peer` (an address without port),
    /// waiting out the throttle delay before answering a failure.
    public func attempt(user: String, proof: String, peer: String) async -> Outcome {
        let key = Key(user: String(user.utf8.prefix(NameRules.maxNameLength)) ?? "", peer: peer)
        let now = ContinuousClock.now

        let locked = table.withLock { entries -> Bool in
            guard var entry = entries[key], let until = entry.lockedUntil else { return false }
            if until > now { return true }
            entry.failures = 0
            entry.lockedUntil = nil
            entries[key] = entry
            return false
        }
        if locked {
            return .failure(WireError(.throttled, "too many failed logins; try again later"),
                            failuresInARow: throttle.maxFailures)
        }

        // The stored verifier is looked up for every name (known or not), so both paths cost the same.
        let stored = NameRules.isValidUserName(user) ? storedVerifier(user) : .none
        let known: [UInt8]? = digests[user].flatMap { configured -> [UInt8]? in
            switch stored {
            case .none: return configured
            case let .digest(digest): return digest
            case .damaged: return nil  // fail closed: never fall back to an older password
            }
        }
        let expected = known ?? dummyDigest
        let given = Hex.decode(proof).flatMap { $0.count == 16 ? $0 : nil }
        let matches = ConstantTime.equals(expected, given ?? dummyDigest.map { ~$0 })
        if matches, known != nil, given != nil {
            table.withLock { _ = $0.removeValue(forKey: key) }
            return .success
        }

        let failures = table.withLock { entries -> Int in
            var entry = entries[key] ?? Entry(lastFailure: now)
            entry.failures += 1
            entry.lastFailure = now
            if entry.failures >= throttle.maxFailures { entry.lockedUntil = now + throttle.lockout }
            if entries[key] == nil, entries.count >= throttle.tableSize,
               let oldest = entries.min(by: { $0.value.lastFailure < $1.value.lastFailure })?.key {
                entries.removeValue(forKey: oldest)
            }
            entries[key] = entry
            return entry.failures
        }
        try? await Task.sleep(for: delay(afterFailures: failures))
        return .failure(Self.failure, failuresInARow: failures)
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

    /// Pairs remembered now (for tests).
    var rememberedPairs: Int { table.withLock { $0.count } }
}
