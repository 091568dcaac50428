#if canImport(Glibc)
import Glibc
#elseif canImport(Darwin)
import Darwin
#endif
import COpenSSL

extension DevelopmentPKI {
    /// One node certificate valid for exactly `hosts` (a deployment's DNS names and IP addresses of that node, as its
    /// `Server` line names it), issued by the CA in `directory` — made first when the folder has none. An existing
    /// `<name>.crt` or `<name>.key` is an error unless `force`, which replaces both (the CA is never replaced here).
    /// Everything is checked before anything is written.
    public static func issueNode(directory: String, name: String, hosts: [String], force: Bool) throws -> Report {
        defer { ERR_clear_error() }
        try validateNodeName(name)
        guard !hosts.isEmpty else { throw PKIError.noHosts(node: name) }
        let alternativeNames = try checkedHosts(hosts, directory: directory)
        try PKIFiles.ensureDirectory(directory)
        let certificateFile = certificatePath(directory: directory, name: name)
        let keyFile = keyPath(directory: directory, name: name)
        if !force {
            for path in [keyFile, certificateFile] where PKIFiles.kind(of: path) != .missing {
                throw PKIError.exists(path: path)
            }
        }
        var written: [String] = []
        let issuer: (certificate: OpaquePointer, key: OpaquePointer)
        let reusedCA: Bool
        if let existing = try loadExistingCA(certificatePath: caCertificatePath(directory: directory),
                                             keyPath: caKeyPath(directory: directory)) {
            issuer = existing
            reusedCA = true
        } else {
            let made = try makeAndWriteCA(directory: directory)
            issuer = made.ca
            written = made.written
            reusedCA = false
        }
        defer {
            X509_free(issuer.certificate)
            EVP_PKEY_free(issuer.key)
        }
        written += try issueAndWriteNode(directory: directory, name: name, organization: "edfs",
                                         dnsNames: alternativeNames.dns, ipAddresses: alternativeNames.ipAddresses,
                                         issuer: issuer)
        return Report(written: written, kept: [], reusedCA: reusedCA)
    }

    /// A new CA written as `ca.key` (0600) then `ca.crt` (0644); the caller frees the returned pair.
    static func makeAndWriteCA(directory: String) throws
        -> (ca: (certificate: OpaquePointer, key: OpaquePointer), written: [String]) {
        let made = try makeCA()
        var handedOver = false
        defer {
            if !handedOver {
                X509_free(made.certificate)
                EVP_PKEY_free(made.key)
            }
        }
        let keyFile = caKeyPath(directory: directory)
        let certificateFile = caCertificatePath(directory: directory)
        try PKIFiles.writeAtomically(path: keyFile, mode: 0o600, making: "the CA key") {
            PKIOpenSSL.writePrivateKey(made.key, to: $0)
        }
        try PKIFiles.writeAtomically(path: certificateFile, mode: 0o644, making: "the CA certificate") {
            PKIOpenSSL.writeCertificate(made.certificate, to: $0)
        }
        handedOver = true
        return (made, [keyFile, certificateFile])
    }

    /// A fresh key and a certificate for node `name` signed by `issuer`, written as `<name>.key` (0600) then
    /// `<name>.crt` (0644). Returns both paths.
    static func issueAndWriteNode(directory: String, name: String, organization: String, dnsNames: [String],
                                  ipAddresses: [[UInt8]],
                                  issuer: (certificate: OpaquePointer, key: OpaquePointer)) throws -> [String] {
        let keyFile = keyPath(directory: directory, name: name)
        let certificateFile = certificatePath(directory: directory, name: name)
        let key = try PKIOpenSSL.generateP256Key(making: keyFile)
        defer { EVP_PKEY_free(key) }
        let profile = PKIOpenSSL.Profile(commonName: name, organization: organization, days: nodeValidityDays,
                                         isCA: false, dnsNames: dnsNames, ipAddresses: ipAddresses)
        let certificate = try PKIOpenSSL.makeCertificate(profile, subjectKey: key, issuer: issuer, making: certificateFile)
        defer { X509_free(certificate) }
        try PKIFiles.writeAtomically(path: keyFile, mode: 0o600, making: "a node key") {
            PKIOpenSSL.writePrivateKey(key, to: $0)
        }
        try PKIFiles.writeAtomically(path: certificateFile, mode: 0o644, making: "a node certificate") {
            PKIOpenSSL.writeCertificate(certificate, to: $0)
        }
        return [keyFile, certificateFile]
    }
}
