import ArgumentParser
import EDFSClient
import EDFSCrypto
import EDFSFormat
#if canImport(Glibc)
import Glibc
#endif

/// The exit codes of the CLI contract (sysexits, docs/CLI.md).
enum ExitStatus {
    static let usage: Int32 = 64
    static let dataError: Int32 = 65
    static let noInput: Int32 = 66
    static let unavailable: Int32 = 69
    static let noPermission: Int32 = 77
    static let failure: Int32 = 1
}

/// Prints `message` as one line on stderr, prefixed with the program name.
func printError(_ message: String) {
    let line = Array("edfs: \(message)\n".utf8)
    line.withUnsafeBytes { bytes in _ = write(2, bytes.baseAddress, bytes.count) }
}

/// Writes one line to stdout at once (not through stdio's buffer), for progress lines that must survive a crash.
func printUnbuffered(_ message: String) {
    let line = Array("\(message)\n".utf8)
    line.withUnsafeBytes { bytes in _ = write(1, bytes.baseAddress, bytes.count) }
}

/// Runs `body`; any error becomes one line on stderr and the exit code its kind maps to.
func reportingFailures<T>(_ body: () async throws -> T) async throws -> T {
    do {
        return try await body()
    } catch let exit as ExitCode {
        throw exit
    } catch {
        printError(String(describing: error))
        throw ExitCode(exitStatus(for: error))
    }
}

/// The exit code for a library error.
func exitStatus(for error: any Error) -> Int32 {
    switch error {
    case let client as ClientError: return client.exitCode
    case is PasswordError: return ExitStatus.usage
    case is ConfigError: return ExitStatus.failure
    case is FormatError, is StripeError: return ExitStatus.dataError
    case KeyslotError.wrongPassword: return ExitStatus.noPermission
    case KeyslotError.weakKDF: return ExitStatus.dataError
    case CryptoError.authenticationFailed: return ExitStatus.dataError
    case CryptoError.invalidParameter, CryptoError.invalidLength: return ExitStatus.usage
    case is ByteCountError: return ExitStatus.usage
    default: return ExitStatus.failure
    }
}
