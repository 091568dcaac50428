/// Why a cryptographic operation failed. Messages never carry key material or plaintext.
public enum CryptoError: Error, Equatable, Sendable, CustomStringConvertible {
    /// An authentication tag did not verify: wrong key, or the data, nonce or AAD changed.
    case authenticationFailed
    /// A key, nonce, tag or buffer had the wrong length.
    case invalidLength(what: String, expected: Int, actual: Int)
    /// A parameter was outside what the operation accepts.
    case invalidParameter(String)
    /// libcrypto reported an internal failure in the named call.
    case openSSL(function: String)

    public var description: String {
        switch self {
        case .authenticationFailed:
            return "authentication failed (wrong key, or the data was changed)"
        case let .invalidLength(what, expected, actual):
            return "\(what) must be \(expected) bytes, got \(actual)"
        case let .invalidParameter(text):
            return "invalid parameter: \(text)"
        case let .openSSL(function):
            return "OpenSSL call \(function) failed"
        }
    }
}
