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
    } catch ClientError.outputClosed {
        CommandProgress.stopActive()
        throw ExitCode(ExitStatus.outputClosed)  // the reader stopped reading on purpose: nothing to say
    } catch {
        CommandProgress.stopActive()
        DiagnosticLog.record(error)
        printError(failureLine(for: error))
        throw ExitCode(ExitStatus.code(for: error))
    }
}

/// The one line for a failure: its text, and for a node outage whose text names no remedy, the usual one.
func failureLine(for error: any Error) -> String {
    let text = String(describing: error)
    guard case ClientError.notEnoughNodes = error else { return text }
    let remedies = ["edfs status", "edfs repair", "edfs key rotate", "start the node", "run the command again",
                    "try again", "check "]
    if remedies.contains(where: { text.contains($0) }) { return text }
    if text.contains("limit exceeded") {
        return text + ": run fewer commands at once (or raise the limit in the nodes' config), then run the command again"
    }
    return text + ": start the nodes that are down (edfs status shows which), then run the command again"
}
