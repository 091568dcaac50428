/// Why a client command failed; each kind maps to one exit code of the CLI contract (docs/CLI.md).
public enum ClientError: Error, Equatable, Sendable, CustomStringConvertible {
    /// The password was refused (login or keyslot). Exit 77.
    case authenticationFailed(String)
    /// Too few nodes answered for what the command needs. Exit 69.
    case notEnoughNodes(String)
    /// No stored file (or local file) of that name. Exit 66.
    case noSuchFile(String)
    /// Stored data failed verification everywhere it was tried. Exit 65.
    case integrity(String)
    /// The request itself is wrong. Exit 64.
    case usage(String)
    /// The stored name is taken, is a file where a folder is needed (or the reverse), or the folder is not empty.
    /// Exit 73.
    case conflict(String)
    /// A local file-system failure. Exit 1.
    case localIO(String)
    /// Something else went wrong. Exit 1.
    case failed(String)
    /// The reader of the standard output closed it (`edfs get NAME -o - | head`): no message, exit 141 as for a
    /// program that SIGPIPE ended.
    case outputClosed

    public var description: String {
        switch self {
        case let .authenticationFailed(text), let .notEnoughNodes(text), let .noSuchFile(text), let .integrity(text),
             let .usage(text), let .conflict(text), let .localIO(text), let .failed(text):
            return text
        case .outputClosed: return "the reader of the standard output closed it"
        }
    }

    /// A node's failure as the CLI reports it: unreachable (69) when the node could not be talked to, else 1.
    static func nodeFailure(_ message: String, _ error: any Error) -> ClientError {
        switch error {
        case is NodeConnectionError, NodeLinkError.unreachable: return .notEnoughNodes(message)
        default: return .failed(message)
        }
    }

    /// The sysexits code of this failure.
    public var exitCode: Int32 {
        switch self {
        case .authenticationFailed: return ExitStatus.noPermission
        case .notEnoughNodes: return ExitStatus.unavailable
        case .noSuchFile: return ExitStatus.noInput
        case .integrity: return ExitStatus.dataError
        case .usage: return ExitStatus.usage
        case .conflict: return ExitStatus.cannotCreate
        case .localIO, .failed: return ExitStatus.failure
        case .outputClosed: return ExitStatus.outputClosed
        }
    }
}
