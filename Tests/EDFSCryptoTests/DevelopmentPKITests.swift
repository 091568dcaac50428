import Foundation
import Testing
@testable import EDFSCrypto

/// A fresh temporary folder, removed when the test's closure returns.
private func withTemporaryDirectory<R>(_ body: (String) throws -> R) throws -> R {
    let base = FileManager.default.temporaryDirectory
        .appendingPathComponent("edfs-pki-\(UUID().uuidString)", isDirectory: true)
    try FileManager.default.createDirectory(at: base, withIntermediateDirectories: false)
    defer { try? FileManager.default.removeItem(at: base) }
    return try body(base.path)
}

/// Runs /usr/bin/openssl; returns its exit status and stdout+stderr.
private func openssl(_ arguments: [String]) throws -> (status: Int32, output: String) {
    let process = Process()
    process.executableURL = URL(fileURLWithPath: "/usr/bin/openssl")
    process.arguments = arguments
    let pipe = Pipe()
    process.standardOutput = pipe
    process.standardError = pipe
    process.standardInput = FileHandle.nullDevice
    try process.run()
    let data = pipe.fileHandleForReading.readDataToEndOfFile()
    process.waitUntilExit()
    return (process.terminationStatus, String(decoding: data, as: UTF8.self))
}

private func mode(_ path: String) throws -> Int {
    let attributes = try FileManager.default.attributesOfItem(atPath: path)
    let permissions = try #require(attributes[.posixPermissions] as? NSNumber)
    return permissions.intValue & 0o7777
}

private func contents(_ path: String) throws -> Data {
    try Data(contentsOf: URL(fileURLWithPath: path))
}

@Suite("DevelopmentPKI")
struct DevelopmentPKITests {
    @Test("writes the CA and node files with modes 0600 (keys) and 0644 (certificates), folder 0700")
    func writesFilesWithModes() throws {
        try withTemporaryDirectory { base in
            let directory = base + "/nested/Keys"
            let written = try DevelopmentPKI.initialize(directory: directory, nodeNames: ["DFS1", "DFS2"],
                                                        hosts: DevelopmentPKI.defaultHosts, force: false)
            let expected = [
                DevelopmentPKI.caKeyPath(directory: directory), DevelopmentPKI.caCertificatePath(directory: directory),
                DevelopmentPKI.keyPath(directory: directory, name: "DFS1"),
                DevelopmentPKI.certificatePath(directory: directory, name: "DFS1"),
                DevelopmentPKI.keyPath(directory: directory, name: "DFS2"),
                DevelopmentPKI.certificatePath(directory: directory, name: "DFS2"),
            ]
            #expect(written == expected)
            for path in expected {
                #expect(try mode(path) == (path.hasSuffix(".key") ? 0o600 : 0o644), "\(path)")
            }
            #expect(try mode(directory) == 0o700)
            let listing = try FileManager.default.contentsOfDirectory(atPath: directory).sorted()
            #expect(listing == ["DFS1.crt", "DFS1.key", "DFS2.crt", "DFS2.key", "ca.crt", "ca.key"])  // no temp files
        }
    }

    @Test("openssl verifies a node certificate against the CA, for TLS server and client use and its hosts")
    func opensslVerifies() throws {
        try withTemporaryDirectory { directory in
            try DevelopmentPKI.initialize(directory: directory, nodeNames: ["DFS1"],
                                          hosts: DevelopmentPKI.defaultHosts, force: false)
            let ca = DevelopmentPKI.caCertificatePath(directory: directory)
            let node = DevelopmentPKI.certificatePath(directory: directory, name: "DFS1")
            let plain = try openssl(["verify", "-CAfile", ca, node])
            #expect(plain.status == 0, "\(plain.output)")
            #expect(plain.output.contains("OK"))
            for check in [["-purpose", "sslserver"], ["-purpose", "sslclient"], ["-verify_ip", "127.0.0.1"],
                          ["-verify_ip", "::1"], ["-verify_hostname", "localhost"],
                          ["-verify_hostname", "DFS1"]] {
                let result = try openssl(["verify", "-CAfile", ca] + check + [node])
                #expect(result.status == 0, "\(check): \(result.output)")
            }
            for check in [["-verify_ip", "10.0.0.1"], ["-verify_hostname", "example.com"]] {
                let result = try openssl(["verify", "-CAfile", ca] + check + [node])
                #expect(result.status != 0, "\(check) should not verify")
            }
        }
    }

    @Test("the certificates say what they are: P-256, SHA-256, v3, SANs, CA:FALSE, serverAuth+clientAuth; CA:TRUE")
    func certificateText() throws {
        try withTemporaryDirectory { directory in
            try DevelopmentPKI.initialize(directory: directory, nodeNames: ["DFS1"],
                                          hosts: ["127.0.0.1", "localhost", "::1", "node.example"], force: false)
            let node = try openssl(["x509", "-noout", "-text", "-in",
                                    DevelopmentPKI.certificatePath(directory: directory, name: "DFS1")])
            #expect(node.status == 0)
            for needle in ["Version: 3 (0x2)", "Signature Algorithm: ecdsa-with-SHA256", "NIST CURVE: P-256",
                           "Subject: O = edfs development, CN = DFS1", "CA:FALSE", "Digital Signature",
                           "TLS Web Server Authentication", "TLS Web Client Authentication",
                           "DNS:localhost", "DNS:node.example", "DNS:DFS1", "IP Address:127.0.0.1",
                           "IP Address:0:0:0:0:0:0:0:1", "X509v3 Authority Key Identifier",
                           "X509v3 Subject Key Identifier"] {
                #expect(node.output.contains(needle), "node certificate lacks \(needle)")
            }
            #expect(!node.output.contains("CA:TRUE"))
            #expect(node.output.contains("X509v3 Basic Constraints: critical"))

            let ca = try openssl(["x509", "-noout", "-text", "-in", DevelopmentPKI.caCertificatePath(directory: directory)])
            #expect(ca.status == 0)
            for needle in ["Version: 3 (0x2)", "Signature Algorithm: ecdsa-with-SHA256", "NIST CURVE: P-256",
                           "X509v3 Basic Constraints: critical", "CA:TRUE", "X509v3 Key Usage: critical",
                           "Certificate Sign, CRL Sign", "X509v3 Subject Key Identifier"] {
                #expect(ca.output.contains(needle), "CA certificate lacks \(needle)")
            }
            #expect(!ca.output.contains("Subject Alternative Name"))
        }
    }

    @Test("validity: about 10 years for the CA, about 2 years for a node; 16-byte serials that differ")
    func validityAndSerials() throws {
        try withTemporaryDirectory { directory in
            try DevelopmentPKI.initialize(directory: directory, nodeNames: ["DFS1", "DFS2"], force: false)
            let day = 86_400
            let ca = DevelopmentPKI.caCertificatePath(directory: directory)
            let node = DevelopmentPKI.certificatePath(directory: directory, name: "DFS1")
            #expect(try openssl(["x509", "-noout", "-checkend", "\(3640 * day)", "-in", ca]).status == 0)
            #expect(try openssl(["x509", "-noout", "-checkend", "\(3660 * day)", "-in", ca]).status != 0)
            #expect(try openssl(["x509", "-noout", "-checkend", "\(720 * day)", "-in", node]).status == 0)
            #expect(try openssl(["x509", "-noout", "-checkend", "\(740 * day)", "-in", node]).status != 0)

            var serials: Set<String> = []
            for path in [ca, node, DevelopmentPKI.certificatePath(directory: directory, name: "DFS2")] {
                let result = try openssl(["x509", "-noout", "-serial", "-in", path])
                let serial = result.output.trimmingCharacters(in: .whitespacesAndNewlines)
                    .replacingOccurrences(of: "serial=", with: "")
                #expect(serial.count == 32, "serial \(serial) is not 16 bytes")
                serials.insert(serial)
            }
            #expect(serials.count == 3)
        }
    }

    @Test("keys are unencrypted PKCS#8 EC keys that belong to their certificates")
    func keysMatchCertificates() throws {
        try withTemporaryDirectory { directory in
            try DevelopmentPKI.initialize(directory: directory, nodeNames: ["DFS1", "DFS2"], force: false)
            let certificate = DevelopmentPKI.certificatePath(directory: directory, name: "DFS1")
            let key = DevelopmentPKI.keyPath(directory: directory, name: "DFS1")
            let pem = String(decoding: try contents(key), as: UTF8.self)
            #expect(pem.hasPrefix("-----BEGIN PRIVATE KEY-----\n"))

            // openssl's view: the public key in the certificate equals the one derived from the private key.
            let fromCertificate = try openssl(["x509", "-noout", "-pubkey", "-in", certificate])
            let fromKey = try openssl(["pkey", "-pubout", "-in", key])
            #expect(fromCertificate.status == 0 && fromKey.status == 0)
            #expect(fromCertificate.output.contains("BEGIN PUBLIC KEY"))
            #expect(fromCertificate.output == fromKey.output)

            // Our loader's view, including a pair that does not match.
            try DevelopmentPKI.verifyKeyPair(certificatePath: certificate, keyPath: key)
            try DevelopmentPKI.verifyKeyPair(certificatePath: DevelopmentPKI.caCertificatePath(directory: directory),
                                             keyPath: DevelopmentPKI.caKeyPath(directory: directory))
            let otherKey = DevelopmentPKI.keyPath(directory: directory, name: "DFS2")
            #expect(throws: PKIError.keyMismatch(certificate: certificate, key: otherKey)) {
                try DevelopmentPKI.verifyKeyPair(certificatePath: certificate, keyPath: otherKey)
            }
            try DevelopmentPKI.verifyIssued(certificatePath: certificate,
                                            caCertificatePath: DevelopmentPKI.caCertificatePath(directory: directory))
        }
    }

    @Test("re-running without force keeps the CA and existing nodes, and issues new nodes from the same CA")
    func rerunKeepsCA() throws {
        try withTemporaryDirectory { directory in
            try DevelopmentPKI.initialize(directory: directory, nodeNames: ["DFS1"], force: false)
            let caCertificate = DevelopmentPKI.caCertificatePath(directory: directory)
            let caKey = DevelopmentPKI.caKeyPath(directory: directory)
            let node = DevelopmentPKI.certificatePath(directory: directory, name: "DFS1")
            let before = try [caCertificate, caKey, node].map(contents)

            let report = try DevelopmentPKI.generate(directory: directory, nodeNames: ["DFS1", "DFS2"], force: false)
            #expect(report.reusedCA)
            #expect(report.written == [DevelopmentPKI.keyPath(directory: directory, name: "DFS2"),
                                       DevelopmentPKI.certificatePath(directory: directory, name: "DFS2")])
            #expect(report.kept == [node, DevelopmentPKI.keyPath(directory: directory, name: "DFS1")])
            #expect(try [caCertificate, caKey, node].map(contents) == before)

            let result = try openssl(["verify", "-CAfile", caCertificate,
                                      DevelopmentPKI.certificatePath(directory: directory, name: "DFS2")])
            #expect(result.status == 0, "\(result.output)")
            #expect(try DevelopmentPKI.initialize(directory: directory, nodeNames: ["DFS1", "DFS2"], force: false)
                        .isEmpty)
        }
    }

    @Test("force makes a new CA and reissues every node from it")
    func forceReplacesCA() throws {
        try withTemporaryDirectory { directory in
            try DevelopmentPKI.initialize(directory: directory, nodeNames: ["DFS1"], force: false)
            let caCertificate = DevelopmentPKI.caCertificatePath(directory: directory)
            let caKey = DevelopmentPKI.caKeyPath(directory: directory)
            let node = DevelopmentPKI.certificatePath(directory: directory, name: "DFS1")
            let oldCA = try contents(caCertificate)
            let oldCAKey = try contents(caKey)
            let oldNode = try contents(node)

            let report = try DevelopmentPKI.generate(directory: directory, nodeNames: ["DFS1"], force: true)
            #expect(!report.reusedCA)
            #expect(report.kept.isEmpty)
            #expect(report.written.count == 4)
            #expect(try contents(caCertificate) != oldCA)
            #expect(try contents(caKey) != oldCAKey)
            #expect(try contents(node) != oldNode)
            #expect(try mode(caKey) == 0o600)
            #expect(try openssl(["verify", "-CAfile", caCertificate, node]).status == 0)
        }
    }

    @Test("a certificate from a second, separate CA does not verify against the first")
    func separateCAsDoNotCrossVerify() throws {
        try withTemporaryDirectory { base in
            let first = base + "/first"
            let second = base + "/second"
            try DevelopmentPKI.initialize(directory: first, nodeNames: ["DFS1"], force: false)
            try DevelopmentPKI.initialize(directory: second, nodeNames: ["DFS1"], force: false)
            let firstCA = DevelopmentPKI.caCertificatePath(directory: first)
            let foreign = DevelopmentPKI.certificatePath(directory: second, name: "DFS1")
            let result = try openssl(["verify", "-CAfile", firstCA, foreign])
            #expect(result.status != 0)
            #expect(!result.output.contains(": OK"))
            #expect(throws: PKIError.notIssuedByCA(certificate: foreign, ca: firstCA)) {
                try DevelopmentPKI.verifyIssued(certificatePath: foreign, caCertificatePath: firstCA)
            }
            #expect(try openssl(["verify", "-CAfile", firstCA,
                                 DevelopmentPKI.certificatePath(directory: first, name: "DFS1")]).status == 0)
        }
    }

    @Test("invalid node names and hosts are refused before anything is created",
          arguments: [
              [""], ["."], [".hidden"], ["-flag"], ["a/b"], [".."], ["../x"], ["a b"], ["a\u{0}b"], ["ü"],
              [String(repeating: "n", count: 65)], ["ca"], ["CA"], ["DFS1", "bad/name"], ["DFS1", "DFS2", ""],
          ])
    func invalidNodeNames(names: [String]) throws {
        try withTemporaryDirectory { base in
            let directory = base + "/Keys"
            #expect(throws: PKIError.self) {
                try DevelopmentPKI.initialize(directory: directory, nodeNames: names, force: false)
            }
            #expect(!FileManager.default.fileExists(atPath: directory))
            let error = #expect(throws: PKIError.self) {
                try DevelopmentPKI.initialize(directory: directory, nodeNames: names, force: true)
            }
            #expect(error?.isUsageError == true)
            #expect(error?.description.contains("\n") == false)
            #expect(!FileManager.default.fileExists(atPath: directory))
        }
    }

    @Test("node names that are fine", arguments: ["DFS1", "a", "node_2.local", "N-1", String(repeating: "z", count: 64)])
    func validNodeNames(name: String) throws {
        try DevelopmentPKI.validateNodeName(name)
        #expect(DevelopmentPKI.isValidNodeName(name))
    }

    @Test("invalid hosts are refused before anything is created",
          arguments: ["", "a,b", "DNS:evil", "under_score", "1.2.3.4.5", "[::1]", "fe80::1%eth0", "-a.example",
                      "a..b", "host\u{0}", "127.0.0.1 ", String(repeating: "h", count: 64) + ".example"])
    func invalidHosts(host: String) throws {
        try withTemporaryDirectory { base in
            let directory = base + "/Keys"
            #expect(throws: PKIError.invalidHost(host)) {
                try DevelopmentPKI.initialize(directory: directory, nodeNames: ["DFS1"], hosts: ["localhost", host],
                                              force: false)
            }
            #expect(!FileManager.default.fileExists(atPath: directory))
        }
    }

    @Test("too many node names or hosts are refused")
    func limits() throws {
        try withTemporaryDirectory { base in
            let directory = base + "/Keys"
            let names = (0...DevelopmentPKI.maximumNodes).map { "N\($0)" }
            #expect(throws: PKIError.tooMany(what: "node names", count: names.count, limit: DevelopmentPKI.maximumNodes)) {
                try DevelopmentPKI.initialize(directory: directory, nodeNames: names, force: false)
            }
            let hosts = (0...DevelopmentPKI.maximumHosts).map { "h\($0).example" }
            #expect(throws: PKIError.tooMany(what: "hosts", count: hosts.count, limit: DevelopmentPKI.maximumHosts)) {
                try DevelopmentPKI.initialize(directory: directory, nodeNames: ["DFS1"], hosts: hosts, force: false)
            }
            #expect(!FileManager.default.fileExists(atPath: directory))
        }
    }

    @Test("half a CA is never replaced without force")
    func incompleteCA() throws {
        try withTemporaryDirectory { directory in
            try DevelopmentPKI.initialize(directory: directory, nodeNames: ["DFS1"], force: false)
            let caCertificate = DevelopmentPKI.caCertificatePath(directory: directory)
            let caKey = DevelopmentPKI.caKeyPath(directory: directory)
            let keyBytes = try contents(caKey)
            try FileManager.default.removeItem(atPath: caCertificate)
            #expect(throws: PKIError.incompletePair(existing: caKey, missing: caCertificate, isCA: true)) {
                try DevelopmentPKI.initialize(directory: directory, nodeNames: ["DFS2"], force: false)
            }
            #expect(try contents(caKey) == keyBytes)
            #expect(!FileManager.default.fileExists(atPath: DevelopmentPKI.keyPath(directory: directory, name: "DFS2")))
            try DevelopmentPKI.initialize(directory: directory, nodeNames: ["DFS2"], force: true)
            #expect(try contents(caKey) != keyBytes)
        }
    }

    @Test("a CA key that does not match ca.crt is refused")
    func mismatchedCA() throws {
        try withTemporaryDirectory { base in
            let first = base + "/first"
            let second = base + "/second"
            try DevelopmentPKI.initialize(directory: first, nodeNames: [], force: false)
            try DevelopmentPKI.initialize(directory: second, nodeNames: [], force: false)
            let caKey = DevelopmentPKI.caKeyPath(directory: first)
            try FileManager.default.removeItem(atPath: caKey)
            try FileManager.default.copyItem(atPath: DevelopmentPKI.caKeyPath(directory: second), toPath: caKey)
            #expect(throws: PKIError.keyMismatch(certificate: DevelopmentPKI.caCertificatePath(directory: first),
                                                 key: caKey)) {
                try DevelopmentPKI.initialize(directory: first, nodeNames: ["DFS1"], force: false)
            }
        }
    }

    @Test("existing node files from another CA, or half a node pair, are refused without force")
    func foreignOrHalfNodeFiles() throws {
        try withTemporaryDirectory { base in
            let first = base + "/first"
            let second = base + "/second"
            try DevelopmentPKI.initialize(directory: first, nodeNames: ["DFS2"], force: false)
            try DevelopmentPKI.initialize(directory: second, nodeNames: ["DFS1"], force: false)
            for suffix in [".crt", ".key"] {
                try FileManager.default.copyItem(atPath: second + "/DFS1" + suffix, toPath: first + "/DFS1" + suffix)
            }
            let foreign = DevelopmentPKI.certificatePath(directory: first, name: "DFS1")
            #expect(throws: PKIError.notIssuedByCA(certificate: foreign,
                                                   ca: DevelopmentPKI.caCertificatePath(directory: first))) {
                try DevelopmentPKI.initialize(directory: first, nodeNames: ["DFS1", "DFS3"], force: false)
            }
            #expect(!FileManager.default.fileExists(atPath: DevelopmentPKI.keyPath(directory: first, name: "DFS3")))

            // No CA at all but node files present: a new CA could not have issued them.
            let third = base + "/third"
            try FileManager.default.createDirectory(atPath: third, withIntermediateDirectories: false)
            for suffix in [".crt", ".key"] {
                try FileManager.default.copyItem(atPath: second + "/DFS1" + suffix, toPath: third + "/DFS1" + suffix)
            }
            #expect(throws: PKIError.self) {
                try DevelopmentPKI.initialize(directory: third, nodeNames: ["DFS1"], force: false)
            }
            #expect(!FileManager.default.fileExists(atPath: DevelopmentPKI.caKeyPath(directory: third)))

            try FileManager.default.removeItem(atPath: DevelopmentPKI.keyPath(directory: first, name: "DFS2"))
            #expect(throws: PKIError.incompletePair(existing: DevelopmentPKI.certificatePath(directory: first, name: "DFS2"),
                                                    missing: DevelopmentPKI.keyPath(directory: first, name: "DFS2"),
                                                    isCA: false)) {
                try DevelopmentPKI.initialize(directory: first, nodeNames: ["DFS2"], force: false)
            }
            let written = try DevelopmentPKI.initialize(directory: first, nodeNames: ["DFS1", "DFS2"], force: true)
            #expect(written.count == 6)
            #expect(try openssl(["verify", "-CAfile", DevelopmentPKI.caCertificatePath(directory: first), foreign])
                        .status == 0)
        }
    }

    @Test("a repeated node name is issued once; the path scheme is <dir>/<name>.crt|.key")
    func duplicatesAndPaths() throws {
        try withTemporaryDirectory { directory in
            let written = try DevelopmentPKI.initialize(directory: directory, nodeNames: ["DFS3", "DFS3"], force: false)
            #expect(written.count == 4)
            #expect(DevelopmentPKI.certificatePath(directory: "/k", name: "DFS1") == "/k/DFS1.crt")
            #expect(DevelopmentPKI.keyPath(directory: "/k/", name: "DFS1") == "/k/DFS1.key")
            #expect(DevelopmentPKI.caCertificatePath(directory: "Keys") == "Keys/ca.crt")
            #expect(DevelopmentPKI.caKeyPath(directory: "Keys") == "Keys/ca.key")
        }
    }

    @Test("a node name that is not a DNS name is left out of the SANs; the hosts are still there")
    func nodeNameNotDNS() throws {
        try withTemporaryDirectory { directory in
            try DevelopmentPKI.initialize(directory: directory, nodeNames: ["node_1"], hosts: ["127.0.0.1"], force: false)
            let text = try openssl(["x509", "-noout", "-ext", "subjectAltName", "-in",
                                    DevelopmentPKI.certificatePath(directory: directory, name: "node_1")]).output
            #expect(text.contains("IP Address:127.0.0.1"))
            #expect(!text.contains("DNS:"))
        }
    }

    @Test("a file where the folder should be is reported, not overwritten")
    func directoryIsAFile() throws {
        try withTemporaryDirectory { base in
            let path = base + "/Keys"
            try Data("x".utf8).write(to: URL(fileURLWithPath: path))
            #expect(throws: PKIError.self) {
                try DevelopmentPKI.initialize(directory: path, nodeNames: ["DFS1"], force: true)
            }
            #expect(try contents(path) == Data("x".utf8))
        }
    }

    @Test("error messages are one line and name the file")
    func messages() {
        let error = PKIError.incompletePair(existing: "Keys/ca.key", missing: "Keys/ca.crt", isCA: true)
        #expect(error.description.contains("Keys/ca.crt"))
        #expect(error.description.contains("--force"))
        #expect(!PKIError.invalidNodeName("a\nb").description.contains("\n"))
        #expect(PKIError.invalidNodeName(String(repeating: "x", count: 500)).description.count < 300)
    }
}
