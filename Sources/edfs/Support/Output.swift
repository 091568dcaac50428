import ArgumentParser
import EDFSClient
import EDFSCrypto
import EDFSFormat
#if canImport(Glibc)
import Glibc
#endif

/// Prints `message` as one line on stderr, prefixed with the program name (control characters escaped).
func printError(_ message: String) {
    let line = Array("edfs: \(displayed(message))\n".utf8)
    CommandProgress.writingAbove { line.withUnsafeBytes { bytes in _ = write(2, bytes.baseAddress, bytes.count) } }
}

/// Writes one line to stdout at once (not through stdio's buffer), for progress lines that must survive a crash.
func printUnbuffered(_ message: String) {
    let line = Array("\(message)\n".utf8)
    CommandProgress.writingAbove { line.withUnsafeBytes { bytes in _ = write(1, bytes.baseAddress, bytes.count) } }
}

/// Runs `body`; any error becomes one line on stderr and the exit code its kind maps to.
func reportingFailures<T>(_ body: () async throws -> T) async throws -> T {
    do {
        return try await body()
    } catch let exit as ExitCode {
        CommandProgress.stopActive()
        throw exit
    } catch {
        CommandProgress.stopActive()
        printError(String(describing: error))
        throw ExitCode(ExitStatus.code(for: error))
    }
}
