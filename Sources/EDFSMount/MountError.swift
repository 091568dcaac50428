import EDFSClient
import Glibc

/// Why a file-system call failed, as the errno FUSE returns (negated) to the caller.
enum MountError: Error, Equatable {
    case errno(Int32)
    /// The backend cannot do this yet (a folder rename, stored empty folders): the caller picks the errno.
    case unsupported(String)

    var code: Int32 {
        switch self {
        case let .errno(code): return code
        case .unsupported: return ENOSYS
        }
    }

    /// The errno for an error from the client layer: ENOENT for a name that is not stored, EACCES for a refused
    /// password, EINVAL for a refused request, EEXIST for a name in the way, EIO for every data or node failure (a read or commit that could not
    /// be done with the nodes that answered).
    static func code(for error: any Error) -> Int32 {
        switch error {
        case let mount as MountError: return mount.code
        case let client as ClientError:
            switch client {
            case .noSuchFile: return ENOENT
            case .authenticationFailed: return EACCES
            case .usage: return EINVAL
            case .conflict: return EEXIST  // a name in the way (ClusterBackend maps the cases it knows better)
            case .notEnoughNodes, .integrity, .localIO, .failed: return EIO
            case .outputClosed: return EPIPE
            }
        default: return EIO
        }
    }
}
