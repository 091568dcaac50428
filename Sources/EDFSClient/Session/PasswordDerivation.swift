import Dispatch
import EDFSCrypto
import EDFSFormat

/// Why a password derivation was refused: a node asked for parameters a client does not accept.
public enum PasswordDerivationError: Error, Equatable, Sendable, CustomStringConvertible {
    case iterationsOutOfRange(UInt32)
    case tooManyDistinctParameters(limit: Int)
    case badSalt(count: Int)

    public var description: String {
        switch self {
        case let .iterationsOutOfRange(iterations):
            return "a node asked for \(iterations) PBKDF2 iterations (accepted: \(PasswordDerivation.iterationRange.lowerBound)"
                + " to \(PasswordDerivation.iterationRange.upperBound))"
        case let .tooManyDistinctParameters(limit):
            return "nodes asked for more than \(limit) different password salts in one command; refusing to derive more"
        case let .badSalt(count):
            return "a node sent a \(count)-byte salt (accepted: \(SCRAMMessages.saltLengths.lowerBound) to "
                + "\(SCRAMMessages.saltLengths.upperBound))"
        }
    }
}

/// The user's password and what is derived from it during one command: each PBKDF2 runs at most once.
public final class PasswordDerivation: Sendable {
    /// Iterations a node may ask for.
    public static let iterationRange: ClosedRange<UInt32> = KeyslotKDF.minimumIterations...100_000_000
    /// Distinct (salt, iterations) pairs one command derives at most.
    public static let maxDistinctParameters = 2

    private struct Parameters: Hashable {
        let salt: [UInt8]
        let iterations: UInt32
    }

    private struct State {
        var results: [Parameters: Task<SymmetricKey, any Error>] = [:]
        var runs = 0
        /// Set once any node proved a SCRAM login for this user in this command: from then on no MD5 proof is sent.
        var scramProven = false
    }

    private let password: SecureBytes
    private let iterationRange: ClosedRange<UInt32>
    private let state = PthreadMutex(State())

    public init(password: SecureBytes) {
        self.password = password
        self.iterationRange = Self.iterationRange
    }

    /// A derivation that accepts fewer iterations (tests with cheap verifiers only).
    package init(password: SecureBytes, acceptingIterations range: ClosedRange<UInt32>) {
        self.password = password
        self.iterationRange = range
    }

    /// MD5 of the password, for nodes that only hold a legacy verifier.
    public var legacyMD5Digest: [UInt8] { password.withUnsafeBytes { Digest.md5($0) } }

    /// SCRAM's SaltedPassword = PBKDF2-HMAC-SHA256(password, salt, iterations), computed once per distinct
    /// (salt, iterations) for the whole command (concurrent callers wait for the one computation), off the
    /// cooperative thread pool; refuses iterations below KeyslotKDF.minimumIterations or above 100,000,000, and more than
    /// 2 distinct (salt, iterations) pairs per command (a lying node cannot make the client run many PBKDF2s).
    public func saltedPassword(salt: [UInt8], iterations: UInt32) async throws -> SymmetricKey {
        guard iterationRange.contains(iterations) else { throw PasswordDerivationError.iterationsOutOfRange(iterations) }
        guard SCRAMMessages.saltLengths.contains(salt.count) else { throw PasswordDerivationError.badSalt(count: salt.count) }
        let key = Parameters(salt: salt, iterations: iterations)
        let password = self.password
        let task = try state.withLock { s throws(PasswordDerivationError) -> Task<SymmetricKey, any Error> in
            if let running = s.results[key] { return running }
            guard s.results.count < Self.maxDistinctParameters else {
                throw .tooManyDistinctParameters(limit: Self.maxDistinctParameters)
            }
            s.runs += 1
            let task = Task<SymmetricKey, any Error> {
                try await Self.offPool {
                    try SCRAM.saltedPassword(password: password, salt: salt, iterations: iterations)
                }
            }
            s.results[key] = task
            return task
        }
        return try await task.value
    }

    /// How many PBKDF2 computations ran (for tests).
    public var derivationsRun: Int { state.withLock { $0.runs } }

    /// True once a node proved a SCRAM login in this command (then MD5 fallback is refused).
    public var scramProven: Bool { state.withLock { $0.scramProven } }

    func noteSCRAMProven() { state.withLock { $0.scramProven = true } }

    /// Runs `body` on a Dispatch global queue, so a long PBKDF2 does not hold a cooperative thread.
    private static func offPool<T: Sendable>(_ body: @escaping @Sendable () throws -> T) async throws -> T {
        try await withCheckedThrowingContinuation { continuation in
            DispatchQueue.global(qos: .userInitiated).async {
                continuation.resume(with: Result { try body() })
            }
        }
    }
}
