import ArgumentParser
import EDFSClient
import EDFSCrypto
import EDFSFormat
#if canImport(Glibc)
import Glibc
#endif

/// `text` with control characters (newlines, tabs, escapes, C1 controls) shown as escapes, so a stored name
/// cannot break a line of output or imitate another one.
func displayed(_ text: String) -> String {
    var result = ""
    for scalar in text.unicodeScalars {
        switch scalar {
        case "\n": result += "\\n"
        case "\t": result += "\\t"
        case "\r": result += "\\r"
        case _ where scalar.value < 0x20 || (0x7F...0x9F).contains(scalar.value) || scalar.value == 0x2028
            || scalar.value == 0x2029:
            result += "\\u{" + String(scalar.value, radix: 16) + "}"
        default: result.unicodeScalars.append(scalar)
        }
    }
    return result
}

/// Prints `message` as one line on stderr, prefixed with the program name (control characters escaped).
func printError(_ message: String) {
    let line = Array("edfs: \(displayed(message))\n".utf8)
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
    } catch ClientError.outputClosed {
        throw ExitCode(ExitStatus.outputClosed)  // the reader stopped reading on purpose: nothing to say
    } catch {
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
    return text + ": start the nodes that are down (edfs status shows which), then run the command again"
}
