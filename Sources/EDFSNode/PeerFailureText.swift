import NIOSSL

/// A connection's failure as the node's log line says it: what the peer did, not the TLS library's internals.
enum PeerFailureText {
    static func describe(_ error: any Error) -> String {
        guard error is NIOSSLError || error is BoringSSLError || error is NIOSSLExtraError else { return "\(error)" }
        let text = String(describing: error)
        if text.contains("UNKNOWN_CA") || text.contains("BAD_CERTIFICATE") || text.contains("CERTIFICATE_UNKNOWN") {
            return "TLS handshake failed: the client does not trust this node's certificate (a client of another CA)"
        }
        if text.contains("HTTP_REQUEST") || text.contains("WRONG_VERSION_NUMBER") {
            return "TLS handshake failed: not a TLS client (plain TCP or HTTP on the node's port)"
        }
        if text.contains("PROTOCOL_VERSION") || text.contains("UNSUPPORTED_PROTOCOL") || text.contains("NO_PROTOCOLS") {
            return "TLS handshake failed: the client does not speak TLS 1.3"
        }
        if let ssl = error as? NIOSSLError, case .uncleanShutdown = ssl {
            return "the client left without closing TLS"
        }
        return "TLS handshake failed"
    }
}
