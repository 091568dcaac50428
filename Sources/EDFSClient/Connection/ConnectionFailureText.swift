import Logging
import NIOCore
import NIOPosix
import NIOSSL
#if canImport(Glibc)
import Glibc
#endif

/// What a person can act on when a node cannot be reached, instead of the library's error text (docs/CLI.md,
/// "Errors"): refused, timed out, unreachable, a name that does not resolve, a certificate from another CA or for
/// another host, a peer that does not speak TLS 1.3.
enum ConnectionFailureText {
    /// Why TCP could not connect to `address`.
    static func connect(_ error: any Error, address: String, timeout: Double) -> String {
        ClientLog.logger.debug("connect to \(address) failed: \(String(reflecting: error))")
        return connectText(error, address: address, timeout: timeout)
    }

    private static func connectText(_ error: any Error, address: String, timeout: Double) -> String {
        if let failure = error as? NIOConnectionError {
            if let attempt = failure.connectionErrors.first {
                return connectText(attempt.error, address: address, timeout: timeout)
            }
            if failure.dnsAError != nil || failure.dnsAAAAError != nil {
                return "the host name \(failure.host) does not resolve: check the Server line of the config"
            }
            return "no address to connect to for \(failure.host)"
        }
        if case ChannelError.connectTimeout = error as? ChannelError ?? .ioOnClosedChannel {
            return "no answer within \(Int(timeout)) s: the host is down, or a firewall drops port \(port(of: address))"
        }
        if let io = error as? IOError {
            switch io.errnoCode {
            case ECONNREFUSED:
                return "connection refused: no node listens there (is it running? is the port in the config right?)"
            case ETIMEDOUT:
                return "no answer within \(Int(timeout)) s: the host is down, or a firewall drops port \(port(of: address))"
            case EHOSTUNREACH, ENETUNREACH:
                return "no route to the host: check the address and the network"
            default:
                return "cannot connect: \(String(cString: strerror(io.errnoCode)))"
            }
        }
        return "cannot connect: \(error)"
    }

    /// Why the TLS handshake failed.
    static func tls(_ error: any Error) -> String {
        ClientLog.logger.debug("TLS handshake failed: \(String(reflecting: error))")
        let text = String(describing: error)
        if text.contains("CERTIFICATE_VERIFY_FAILED") {
            return "the node's certificate is not signed by this config's CA (the CA: line): node and client must "
                + "come from the same edfs certs init"
        }
        if let extra = error as? NIOSSLExtraError, extra == .failedToValidateHostname {
            return "the node's certificate is not made for the host name in this config's Server line "
                + "(make one for the names the Server lines use: edfs certs node NAME --hosts)"
        }
        if text.contains("WRONG_VERSION_NUMBER") || text.contains("PROTOCOL_VERSION") || text.contains("NO_PROTOCOLS")
            || text.contains("UNSUPPORTED_PROTOCOL") {
            return "the peer does not speak TLS 1.3: is this an edfs node?"
        }
        if let ssl = error as? NIOSSLError, case .uncleanShutdown = ssl {
            return "the peer closed the connection during the TLS handshake: is this an edfs node, and is it still running?"
        }
        if text.contains("CERTIFICATE_REQUIRED") || text.contains("BAD_CERTIFICATE") || text.contains("UNKNOWN_CA") {
            return "the node refused this client's TLS handshake (certificate)"
        }
        return "TLS handshake failed"
    }

    private static func port(of address: String) -> String {
        address.split(separator: ":").last.map(String.init) ?? address
    }
}
