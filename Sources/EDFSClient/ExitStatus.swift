import EDFSCrypto
import EDFSFormat

/// The exit codes of the CLI contract (sysexits, docs/CLI.md), and the one mapping from every library error to them.
public enum ExitStatus {
    public static let usage: Int32 = 64
    public static let dataError: Int32 = 65
    public static let noInput: Int32 = 66
    public static let unavailable: Int32 = 69
    /// A stored name is taken or of the other kind (file/folder), or a folder to remove is not empty.
    public static let cannotCreate: Int32 = 73
    public static let noPermission: Int32 = 77
    public static let failure: Int32 = 1
    /// `check`, `repair`, `status`: something is degraded (readable, short of full redundancy); run `edfs repair`.
    public static let degraded: Int32 = 3
    /// The reader of the standard output went away (a pipe into `head`): 128 + SIGPIPE, as a shell reports a
    /// program that SIGPIPE ended; nothing is printed.
    public static let outputClosed: Int32 = 141

    /// The exit code of `check` and `repair`: 0 healthy, 3 degraded, 69 unavailable, 65 damaged (lost).
    public static func code(for health: FileHealth) -> Int32 {
        switch health {
        case .healthy: return 0
        case .degraded: return degraded
        case .unavailable: return unavailable
        case .damaged: return dataError
        }
    }

    /// The exit code for an error of any edfs layer.
    public static func code(for error: any Error) -> Int32 {
        switch error {
        case let client as ClientError: return client.exitCode
        case is PasswordError: return usage
        case is ConfigError: return failure
        case is FormatError, is StripeError: return dataError
        case KeyslotError.wrongPassword: return noPermission
        case KeyslotError.weakKDF: return dataError
        case CryptoError.authenticationFailed: return dataError
        case CryptoError.invalidParameter, CryptoError.invalidLength: return usage
        case is ByteCountError: return usage
        default: return failure
        }
    }
}
