/// Why a keyslot could not be unlocked.
public enum KeyslotError: Error, Equatable, Sendable, CustomStringConvertible {
    /// The password (or passphrase) does not open the key bundle.
    case wrongPassword
    /// The slot's work factor is below `KeyslotKDF.minimumIterations`.
    case weakKDF(iterations: UInt32)

    public var description: String {
        switch self {
        case .wrongPassword: return "wrong password"
        case let .weakKDF(iterations): return "keyslot KDF has only \(iterations) iterations; refusing a downgraded keyslot"
        }
    }
}
