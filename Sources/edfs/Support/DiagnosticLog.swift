import EDFSClient
import EDFSCrypto
import Logging

/// Where `--verbose` sends the libraries' diagnostic log: stderr, at debug level with the flag and warnings only
/// without it. Started once per process, before the first node is contacted.
enum DiagnosticLog {
    private static let started = PthreadMutex(false)

    /// Routes every logger to stderr at the level `verbose` asks for; later calls change nothing.
    static func start(verbose: Bool) {
        let first = started.withLock { started in
            defer { started = true }
            return !started
        }
        guard first else { return }
        LoggingSystem.bootstrap { label in
            var handler = StreamLogHandler.standardError(label: label)
            handler.logLevel = verbose ? .debug : .warning
            return handler
        }
    }

    /// Logs the library error behind a one-line message (shown with `--verbose`).
    static func record(_ error: any Error) {
        ClientLog.logger.debug("failed: \(String(reflecting: error))")
    }
}
