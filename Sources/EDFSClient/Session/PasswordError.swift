import EDFSCrypto
#if canImport(Glibc)
import Glibc
#endif

/// Why no password could be read.
public enum PasswordError: Error, Equatable, Sendable, CustomStringConvertible {
    case noTerminal
    case empty(String)
    case tooLong
    case unreadable(String, String)
    case mismatch

    public var description: String {
        switch self {
        case .noTerminal:
            return "no terminal to ask for a password: set EDFS_PASSWORD, or use --password-file or --password-stdin"
        case let .empty(source): return "empty password from \(source): give the password there (one line)"
        case .tooLong: return "password longer than \(PasswordSource.maximumLength) bytes"
        case let .unreadable(path, reason): return "cannot read password file \(path): \(reason)"
        case .mismatch: return "the two new passwords differ"
        }
    }
}
