#if canImport(Glibc)
import Glibc
#elseif canImport(Darwin)
import Darwin
#endif
import EDFSFormat
import NIOCore

/// Why a listener of the node could not bind, in words an operator can act on (the node port and the metrics port).
enum BindFailure {
    /// The start error for `error` binding `host:port`. `what` names the address in the message ("" for the node's
    /// own, "metrics address " for the endpoint's), `otherPort` says how to choose another port, and `setting` is
    /// appended to the other reasons (the config line to change, or "").
    static func error(_ error: any Error, host: String, port: Int, what: String, otherPort: String,
                      setting: String) -> NodeStartError {
        let address = what + HostPort.text(host: host, port: port)
        switch (error as? IOError)?.errnoCode {
        case EADDRINUSE?:
            return .bind("\(address) is in use by another program: stop it, or \(otherPort)")
        case EADDRNOTAVAIL?:
            return .bind("\(address) is not an address of this host: listen on one of its own addresses\(setting)")
        case EACCES?:
            return .bind("\(address): ports below 1024 need root; use a higher port\(setting)")
        default:
            return .bind("\(address): \(error)")
        }
    }
}
