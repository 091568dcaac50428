/// Why writing or checking development certificates failed. One line each, naming the file and what to do;
/// never any key material.
public enum PKIError: Error, Equatable, Sendable, CustomStringConvertible {
    /// A node name that cannot become a file name.
    case invalidNodeName(String)
    /// `ca` names the CA's own files.
    case reservedNodeName(String)
    /// A host that is neither an IP address nor a DNS name.
    case invalidHost(String)
    /// A node certificate for a deployment was asked for without any host.
    case noHosts(node: String)
    /// A node's certificate or key exists and `force` was not given.
    case exists(path: String)
    /// A list longer than its limit.
    case tooMany(what: String, count: Int, limit: Int)
    /// The certificate folder could not be created or is not a folder.
    case cannotCreateDirectory(path: String, reason: String)
    /// One file of a certificate/key pair exists without the other.
    case incompletePair(existing: String, missing: String, isCA: Bool)
    /// A file could not be read as a PEM certificate or unencrypted PEM private key.
    case unreadable(path: String, what: String)
    /// The existing `ca.crt` is not a CA certificate.
    case notACertificateAuthority(path: String)
    /// A certificate is past its end date.
    case expired(path: String)
    /// A private key does not belong to the certificate beside it.
    case keyMismatch(certificate: String, key: String)
    /// A certificate was not signed by the given CA.
    case notIssuedByCA(certificate: String, ca: String)
    /// A file could not be written.
    case cannotWrite(path: String, reason: String)
    /// libcrypto failed in the named call while making the named file or object.
    case openSSL(function: String, making: String)

    /// True when the caller's input was wrong (exit status 64), not the environment.
    public var isUsageError: Bool {
        switch self {
        case .invalidNodeName, .reservedNodeName, .invalidHost, .noHosts, .tooMany: return true
        default: return false
        }
    }

    public var description: String {
        switch self {
        case let .invalidNodeName(name):
            return "invalid node name \(Self.shown(name)): use 1-64 characters from A-Z a-z 0-9 . _ - "
                + "that do not start with . or -"
        case let .reservedNodeName(name):
            return "node name \(Self.shown(name)) is reserved for the CA's own files (ca.crt, ca.key): choose another name"
        case let .invalidHost(host):
            return "invalid host \(Self.shown(host)): give an IPv4 or IPv6 address, or a DNS name "
                + "(letters, digits, '-', dot-separated labels of at most 63 characters)"
        case let .noHosts(node):
            return "no hosts for node \(Self.shown(node)): give --hosts with the DNS names and IP addresses its "
                + "Server line uses, e.g. --hosts dfs1.example.net,198.18.0.11"
        case let .exists(path):
            return "\(path) exists: run with --force to replace the node's certificate and key (its old key then "
                + "stops working), or choose another --dir"
        case let .tooMany(what, count, limit):
            return "too many \(what) (\(count)): at most \(limit)"
        case let .cannotCreateDirectory(path, reason):
            return "cannot use certificate folder \(path): \(reason); choose another --dir or fix its permissions"
        case let .incompletePair(existing, missing, isCA):
            return isCA
                ? "\(existing) exists but \(missing) is missing: restore \(missing), or run with --force to make a new CA "
                    + "(every node certificate is then reissued)"
                : "\(existing) exists but \(missing) is missing: restore \(missing), remove \(existing), "
                    + "or run with --force to reissue both"
        case let .unreadable(path, what):
            return "cannot read \(what) \(path) (unreadable, encrypted or not PEM): fix it, or run with --force to replace it"
        case let .notACertificateAuthority(path):
            return "\(path) is not a CA certificate: run with --force to make a new CA"
        case let .expired(path):
            return "\(path) has expired: replace it with edfs certs node NAME --hosts … --force (or edfs certs init --force)"
        case let .keyMismatch(certificate, key):
            return "\(key) does not belong to \(certificate): restore the matching pair, or replace it with edfs certs node NAME --hosts … --force"
        case let .notIssuedByCA(certificate, ca):
            return "\(certificate) was not issued by \(ca): reissue it with edfs certs node NAME --hosts … --force (or edfs certs init --force)"
        case let .cannotWrite(path, reason):
            return "cannot write \(path): \(reason); check the folder's permissions and free space"
        case let .openSSL(function, making):
            return "OpenSSL call \(function) failed while making \(making)"
        }
    }

    /// User input quoted with control characters escaped and bounded in length, safe for one log line.
    private static func shown(_ text: String) -> String {
        let bounded = text.count > 80 ? String(text.prefix(80)) + "..." : text
        return bounded.debugDescription
    }
}
