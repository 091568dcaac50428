import EDFSFormat
import NIOCore

extension SocketAddress {
    /// The address as the node prints it: `HOST:PORT` (`[HOST]:PORT` for IPv6, by `HostPort.text`), or
    /// `local socket` for a Unix-domain socket (the in-process seam).
    public var hostPortText: String {
        guard let host = ipAddress else { return "local socket" }
        return HostPort.text(host: host, port: port ?? 0)
    }
}
