#if canImport(Glibc)
import Glibc
#elseif canImport(Darwin)
import Darwin
#endif
import COpenSSL

/// Development certificates for a local cluster: one self-signed CA (`ca.crt`, `ca.key`) and, per node,
/// `<NAME>.crt` and `<NAME>.key` signed by it. EC P-256 keys as unencrypted PKCS#8 PEM (mode 0600),
/// X.509 v3 certificates (mode 0644) usable for TLS 1.3 server and client authentication.
public enum DevelopmentPKI {
    /// Hosts put in every node certificate when the caller names none.
    public static let defaultHosts = ["127.0.0.1", "localhost", "::1"]
    /// Most node names accepted in one call.
    public static let maximumNodes = 256
    /// Most hosts accepted in one call.
    public static let maximumHosts = 64
    /// Validity of a new CA (about 10 years).
    public static let caValidityDays: Int32 = 3650
    /// Validity of a new node certificate (about 2 years).
    public static let nodeValidityDays: Int32 = 730

    /// What one run did.
    public struct Report: Sendable, Equatable {
        /// Files written, in order (CA key and certificate first when a CA was made).
        public var written: [String]
        /// Existing node files left as they were (checked against the CA), because `force` was false.
        public var kept: [String]
        /// True when an existing CA issued the new node certificates.
        public var reusedCA: Bool
    }

    // MARK: Paths

    /// `<directory>/ca.crt`: the CA certificate nodes and clients trust.
    public static func caCertificatePath(directory: String) -> String { join(directory, "ca.crt") }
    /// `<directory>/ca.key`: the CA's private key.
    public static func caKeyPath(directory: String) -> String { join(directory, "ca.key") }
    /// `<directory>/<name>.crt`: a node's certificate. `name` must pass `validateNodeName`.
    public static func certificatePath(directory: String, name: String) -> String { join(directory, name + ".crt") }
    /// `<directory>/<name>.key`: a node's private key. `name` must pass `validateNodeName`.
    public static func keyPath(directory: String, name: String) -> String { join(directory, name + ".key") }

    // MARK: Names

    /// Throws unless `name` matches `[A-Za-z0-9._-]{1,64}`, does not start with `.` or `-`, and is not `ca`.
    public static func validateNodeName(_ name: String) throws {
        let bytes = Array(name.utf8)
        guard (1...64).contains(bytes.count), bytes.allSatisfy(isNodeNameByte),
              bytes[0] != UInt8(ascii: "."), bytes[0] != UInt8(ascii: "-")
        else { throw PKIError.invalidNodeName(name) }
        // `ca` would overwrite the CA's files (compared case-insensitively for case-insensitive file systems).
        guard name.lowercased() != "ca" else { throw PKIError.reservedNodeName(name) }
    }

    /// True when `validateNodeName` accepts `name`.
    public static func isValidNodeName(_ name: String) -> Bool {
        (try? validateNodeName(name)) != nil
    }

    // MARK: Generating

    /// Writes the CA (unless one exists and `force` is false, then it is reused) and a certificate and key for
    /// each node into `directory` (created with mode 0700 if missing). Returns the paths written.
    /// `hosts` (IP addresses and DNS names) become every node certificate's subjectAltName, plus the node's
    /// own name when it is a valid DNS name. Existing node files are kept unless `force` is true.
    /// All names and hosts are checked before anything is created or written.
    @discardableResult
    public static func initialize(directory: String, nodeNames: [String], hosts: [String] = defaultHosts,
                                  force: Bool) throws -> [String] {
        try generate(directory: directory, nodeNames: nodeNames, hosts: hosts, force: force).written
    }

    /// `initialize`, also telling which existing files were kept and whether the CA was reused.
    public static func generate(directory: String, nodeNames: [String], hosts: [String] = defaultHosts,
                                force: Bool) throws -> Report {
        defer { ERR_clear_error() }

        // 1. Input, before anything touches the disk.
        guard nodeNames.count <= maximumNodes else {
            throw PKIError.tooMany(what: "node names", count: nodeNames.count, limit: maximumNodes)
        }
        var names: [String] = []
        for name in nodeNames {
            try validateNodeName(name)
            if !names.contains(name) { names.append(name) }  // a repeated name (the seed's DFS3) is issued once
        }
        let alternativeNames = try checkedHosts(hosts, directory: directory)

        // 2. The folder and what is already in it.
        try PKIFiles.ensureDirectory(directory)
        let caCertificateFile = caCertificatePath(directory: directory)
        let caKeyFile = caKeyPath(directory: directory)
        var ca: (certificate: OpaquePointer, key: OpaquePointer)?
        defer {
            if let ca {
                X509_free(ca.certificate)
                EVP_PKEY_free(ca.key)
            }
        }
        if !force {
            ca = try loadExistingCA(certificatePath: caCertificateFile, keyPath: caKeyFile)
        }
        let reusedCA = ca != nil

        var toIssue: [String] = []
        var kept: [String] = []
        for name in names {
            let certificateFile = certificatePath(directory: directory, name: name)
            let keyFile = keyPath(directory: directory, name: name)
            if force {
                toIssue.append(name)
                continue
            }
            switch (PKIFiles.kind(of: certificateFile), PKIFiles.kind(of: keyFile)) {
            case (.missing, .missing):
                toIssue.append(name)
            case (.file, .file):
                guard let ca else { throw PKIError.notIssuedByCA(certificate: certificateFile, ca: caCertificateFile) }
                try checkExistingNode(certificatePath: certificateFile, keyPath: keyFile,
                                      ca: ca.certificate, caPath: caCertificateFile)
                kept += [certificateFile, keyFile]
            case (.missing, _):
                throw PKIError.incompletePair(existing: keyFile, missing: certificateFile, isCA: false)
            case (_, .missing):
                throw PKIError.incompletePair(existing: certificateFile, missing: keyFile, isCA: false)
            case (.other, _):
                throw PKIError.unreadable(path: certificateFile, what: "certificate")
            case (_, .other):
                throw PKIError.unreadable(path: keyFile, what: "private key")
            }
        }

        // 3. Write: the CA first (key, then certificate), then each node.
        var written: [String] = []
        let issuer: (certificate: OpaquePointer, key: OpaquePointer)
        if let ca {
            issuer = ca
        } else {
            let made = try makeAndWriteCA(directory: directory)
            ca = made.ca
            issuer = made.ca
            written += made.written
        }
        for name in toIssue {
            written += try issueAndWriteNode(directory: directory, name: name, organization: "edfs development",
                                             dnsNames: alternativeNames.dnsNames(adding: name),
                                             ipAddresses: alternativeNames.ipAddresses, issuer: issuer)
        }
        return Report(written: written, kept: kept, reusedCA: reusedCA)
    }

    /// `hosts` as subjectAltNames, after checking their number and that `directory` is a usable path.
    static func checkedHosts(_ hosts: [String], directory: String) throws -> PKISubjectAltNames {
        guard hosts.count <= maximumHosts else {
            throw PKIError.tooMany(what: "hosts", count: hosts.count, limit: maximumHosts)
        }
        let alternativeNames = try PKISubjectAltNames(hosts: hosts)
        guard !directory.isEmpty, !directory.utf8.contains(0), directory.utf8.count <= 4096 else {
            throw PKIError.cannotCreateDirectory(path: directory.debugDescription, reason: "not a usable path")
        }
        return alternativeNames
    }

    // MARK: Checking

    /// Throws `PKIError.keyMismatch` unless the private key in `keyPath` belongs to the certificate in
    /// `certificatePath` (or `.unreadable` when either file cannot be read).
    public static func verifyKeyPair(certificatePath: String, keyPath: String) throws {
        defer { ERR_clear_error() }
        let certificate = try PKIOpenSSL.readCertificate(path: certificatePath)
        defer { X509_free(certificate) }
        let key = try PKIOpenSSL.readPrivateKey(path: keyPath)
        defer { EVP_PKEY_free(key) }
        guard PKIOpenSSL.keyMatches(certificate: certificate, key: key) else {
            throw PKIError.keyMismatch(certificate: certificatePath, key: keyPath)
        }
    }

    /// Throws `PKIError.notIssuedByCA` unless the CA certificate in `caCertificatePath` signed the certificate in
    /// `certificatePath` (signature and issuer name/key id; not a full path validation).
    public static func verifyIssued(certificatePath: String, caCertificatePath: String) throws {
        defer { ERR_clear_error() }
        let certificate = try PKIOpenSSL.readCertificate(path: certificatePath)
        defer { X509_free(certificate) }
        let ca = try PKIOpenSSL.readCertificate(path: caCertificatePath)
        defer { X509_free(ca) }
        guard PKIOpenSSL.isIssued(certificate, by: ca) else {
            throw PKIError.notIssuedByCA(certificate: certificatePath, ca: caCertificatePath)
        }
    }

    // MARK: Private

    /// The CA in the folder, checked (a CA certificate, not expired, key matching), or nil when neither file
    /// exists. Half a CA is an error: it is never silently replaced.
    static func loadExistingCA(certificatePath: String, keyPath: String) throws
        -> (certificate: OpaquePointer, key: OpaquePointer)? {
        switch (PKIFiles.kind(of: certificatePath), PKIFiles.kind(of: keyPath)) {
        case (.missing, .missing):
            return nil
        case (.missing, _):
            throw PKIError.incompletePair(existing: keyPath, missing: certificatePath, isCA: true)
        case (_, .missing):
            throw PKIError.incompletePair(existing: certificatePath, missing: keyPath, isCA: true)
        default:
            break
        }
        let certificate = try PKIOpenSSL.readCertificate(path: certificatePath)
        var handedOver = false
        defer { if !handedOver { X509_free(certificate) } }
        guard PKIOpenSSL.isCertificateAuthority(certificate) else {
            throw PKIError.notACertificateAuthority(path: certificatePath)
        }
        guard !PKIOpenSSL.hasExpired(certificate) else { throw PKIError.expired(path: certificatePath) }
        let key = try PKIOpenSSL.readPrivateKey(path: keyPath)
        guard PKIOpenSSL.keyMatches(certificate: certificate, key: key) else {
            EVP_PKEY_free(key)
            throw PKIError.keyMismatch(certificate: certificatePath, key: keyPath)
        }
        handedOver = true
        return (certificate, key)
    }

    /// An existing node pair is kept only if it is readable, matching, unexpired and issued by `ca`.
    private static func checkExistingNode(certificatePath: String, keyPath: String,
                                          ca: OpaquePointer, caPath: String) throws {
        let certificate = try PKIOpenSSL.readCertificate(path: certificatePath)
        defer { X509_free(certificate) }
        guard PKIOpenSSL.isIssued(certificate, by: ca) else {
            throw PKIError.notIssuedByCA(certificate: certificatePath, ca: caPath)
        }
        guard !PKIOpenSSL.hasExpired(certificate) else { throw PKIError.expired(path: certificatePath) }
        let key = try PKIOpenSSL.readPrivateKey(path: keyPath)
        defer { EVP_PKEY_free(key) }
        guard PKIOpenSSL.keyMatches(certificate: certificate, key: key) else {
            throw PKIError.keyMismatch(certificate: certificatePath, key: keyPath)
        }
    }

    /// A new self-signed CA with a random tag in its name, so two development CAs are told apart.
    static func makeCA() throws -> (certificate: OpaquePointer, key: OpaquePointer) {
        let key = try PKIOpenSSL.generateP256Key(making: "the CA key")
        var handedOver = false
        defer { if !handedOver { EVP_PKEY_free(key) } }
        let tag = try SecureRandom.bytes(4).map { ($0 < 16 ? "0" : "") + String($0, radix: 16) }.joined()
        let profile = PKIOpenSSL.Profile(commonName: "edfs development CA \(tag)", organization: "edfs development",
                                         days: caValidityDays, isCA: true)
        let certificate = try PKIOpenSSL.makeCertificate(profile, subjectKey: key, issuer: nil,
                                                         making: "the CA certificate")
        handedOver = true
        return (certificate, key)
    }

    private static func isNodeNameByte(_ byte: UInt8) -> Bool {
        switch byte {
        case UInt8(ascii: "A")...UInt8(ascii: "Z"), UInt8(ascii: "a")...UInt8(ascii: "z"),
             UInt8(ascii: "0")...UInt8(ascii: "9"), UInt8(ascii: "."), UInt8(ascii: "_"), UInt8(ascii: "-"):
            return true
        default:
            return false
        }
    }

    private static func join(_ directory: String, _ file: String) -> String {
        directory.hasSuffix("/") ? directory + file : directory + "/" + file
    }
}

/// The hosts of a node certificate, checked and split into DNS names and raw IP addresses, duplicates removed.
struct PKISubjectAltNames {
    private(set) var dns: [String] = []
    private(set) var ipAddresses: [[UInt8]] = []

    init(hosts: [String]) throws {
        for host in hosts {
            if let address = Self.ipAddress(host) {
                if !ipAddresses.contains(address) { ipAddresses.append(address) }
            } else if Self.isDNSName(host) {
                if !dns.contains(where: { $0.lowercased() == host.lowercased() }) { dns.append(host) }
            } else {
                throw PKIError.invalidHost(host)
            }
        }
    }

    /// The DNS names plus `nodeName` when it is itself a valid, not yet listed DNS name.
    func dnsNames(adding nodeName: String) -> [String] {
        guard Self.isDNSName(nodeName), !dns.contains(where: { $0.lowercased() == nodeName.lowercased() })
        else { return dns }
        return dns + [nodeName]
    }

    /// 4 or 16 bytes for a textual IPv4 or IPv6 address, nil otherwise.
    static func ipAddress(_ host: String) -> [UInt8]? {
        guard !host.isEmpty, host.utf8.count <= 64, !host.utf8.contains(0) else { return nil }
        var v4 = in_addr()
        if inet_pton(AF_INET, host, &v4) == 1 { return withUnsafeBytes(of: &v4) { Array($0) } }
        var v6 = in6_addr()
        if inet_pton(AF_INET6, host, &v6) == 1 { return withUnsafeBytes(of: &v6) { Array($0) } }
        return nil
    }

    /// A host name per RFC 1123: dot-separated labels of 1–63 letters, digits and inner hyphens, at most
    /// 253 bytes, the last label not all digits (so a malformed IPv4 address is not taken for a name).
    static func isDNSName(_ host: String) -> Bool {
        let bytes = Array(host.utf8)
        guard (1...253).contains(bytes.count) else { return false }
        let labels = bytes.split(separator: UInt8(ascii: "."), omittingEmptySubsequences: false)
        for label in labels {
            guard (1...63).contains(label.count),
                  label.first != UInt8(ascii: "-"), label.last != UInt8(ascii: "-"),
                  label.allSatisfy({ isLetterOrDigit($0) || $0 == UInt8(ascii: "-") })
            else { return false }
        }
        guard let last = labels.last, !last.allSatisfy({ (UInt8(ascii: "0")...UInt8(ascii: "9")).contains($0) })
        else { return false }
        return true
    }

    private static func isLetterOrDigit(_ byte: UInt8) -> Bool {
        (UInt8(ascii: "A")...UInt8(ascii: "Z")).contains(byte) || (UInt8(ascii: "a")...UInt8(ascii: "z")).contains(byte)
            || (UInt8(ascii: "0")...UInt8(ascii: "9")).contains(byte)
    }
}
