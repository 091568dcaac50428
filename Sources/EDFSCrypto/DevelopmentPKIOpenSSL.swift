import COpenSSL

/// libcrypto calls behind the development PKI: EC P-256 keys, X.509 v3 certificates, PEM in and out.
/// Every function that returns an `OpaquePointer` hands over ownership: the caller frees it (`EVP_PKEY_free`,
/// `X509_free`); every temporary object is freed here on every path.
enum PKIOpenSSL {
    /// What a new certificate says about its subject.
    struct Profile {
        var commonName: String
        var organization: String
        var days: Int32
        var isCA: Bool
        var dnsNames: [String] = []
        /// Raw IPv4 (4 bytes) or IPv6 (16 bytes) addresses.
        var ipAddresses: [[UInt8]] = []
    }

    /// A fresh EC key on P-256 (named curve, uncompressed points).
    static func generateP256Key(making what: String) throws -> OpaquePointer {
        guard let context = EVP_PKEY_CTX_new_from_name(nil, "EC", nil) else {
            throw PKIError.openSSL(function: "EVP_PKEY_CTX_new_from_name", making: what)
        }
        defer { EVP_PKEY_CTX_free(context) }
        guard EVP_PKEY_keygen_init(context) == 1 else {
            throw PKIError.openSSL(function: "EVP_PKEY_keygen_init", making: what)
        }
        guard EVP_PKEY_CTX_set_group_name(context, "P-256") == 1 else {
            throw PKIError.openSSL(function: "EVP_PKEY_CTX_set_group_name", making: what)
        }
        var key: OpaquePointer?
        guard EVP_PKEY_generate(context, &key) == 1, let key else {
            throw PKIError.openSSL(function: "EVP_PKEY_generate", making: what)
        }
        return key
    }

    /// A signed X.509 v3 certificate for `subjectKey`. Self-signed when `issuer` is nil.
    static func makeCertificate(_ profile: Profile, subjectKey: OpaquePointer,
                                issuer: (certificate: OpaquePointer, key: OpaquePointer)?,
                                making what: String) throws -> OpaquePointer {
        func fail(_ function: String) -> PKIError { .openSSL(function: function, making: what) }

        guard let certificate = X509_new() else { throw fail("X509_new") }
        var handedOver = false
        defer { if !handedOver { X509_free(certificate) } }

        guard X509_set_version(certificate, Int(X509_VERSION_3)) == 1 else { throw fail("X509_set_version") }
        try setRandomSerial(certificate, making: what)

        // Back-date a little so a peer whose clock runs slightly behind still accepts the certificate.
        guard X509_gmtime_adj(X509_getm_notBefore(certificate), -300) != nil else { throw fail("X509_gmtime_adj") }
        guard X509_time_adj_ex(X509_getm_notAfter(certificate), profile.days, 0, nil) != nil else {
            throw fail("X509_time_adj_ex")
        }

        guard let name = X509_NAME_new() else { throw fail("X509_NAME_new") }
        defer { X509_NAME_free(name) }
        for (field, value) in [("O", profile.organization), ("CN", profile.commonName)] {
            guard X509_NAME_add_entry_by_txt(name, field, MBSTRING_UTF8, value, -1, -1, 0) == 1 else {
                throw fail("X509_NAME_add_entry_by_txt")
            }
        }
        guard X509_set_subject_name(certificate, name) == 1 else { throw fail("X509_set_subject_name") }
        let issuerName = issuer.map { X509_get_subject_name($0.certificate) } ?? name
        guard X509_set_issuer_name(certificate, issuerName) == 1 else { throw fail("X509_set_issuer_name") }
        guard X509_set_pubkey(certificate, subjectKey) == 1 else { throw fail("X509_set_pubkey") }

        var context = X509V3_CTX()
        X509V3_set_ctx(&context, issuer?.certificate ?? certificate, certificate, nil, nil, 0)
        if issuer == nil {
            guard X509V3_set_issuer_pkey(&context, subjectKey) == 1 else { throw fail("X509V3_set_issuer_pkey") }
        }
        if profile.isCA {
            try addExtension(certificate, &context, NID_basic_constraints, "critical,CA:TRUE", making: what)
            try addExtension(certificate, &context, NID_key_usage, "critical,keyCertSign,cRLSign", making: what)
        } else {
            try addExtension(certificate, &context, NID_basic_constraints, "critical,CA:FALSE", making: what)
            try addExtension(certificate, &context, NID_key_usage, "critical,digitalSignature", making: what)
            try addExtension(certificate, &context, NID_ext_key_usage, "serverAuth,clientAuth", making: what)
        }
        try addExtension(certificate, &context, NID_subject_key_identifier, "hash", making: what)
        try addExtension(certificate, &context, NID_authority_key_identifier, "keyid:always", making: what)
        if !profile.dnsNames.isEmpty || !profile.ipAddresses.isEmpty {
            try addSubjectAltNames(certificate, dns: profile.dnsNames, ip: profile.ipAddresses, making: what)
        }

        guard X509_sign(certificate, issuer?.key ?? subjectKey, EVP_sha256()) > 0 else { throw fail("X509_sign") }
        handedOver = true
        return certificate
    }

    /// A 16-byte positive serial number: 126 random bits, top bits fixed to `01` so DER needs no padding byte.
    private static func setRandomSerial(_ certificate: OpaquePointer, making what: String) throws {
        var bytes = try SecureRandom.bytes(16)
        bytes[0] = (bytes[0] & 0x3f) | 0x40
        guard let number = BN_bin2bn(bytes, Int32(bytes.count), nil) else {
            throw PKIError.openSSL(function: "BN_bin2bn", making: what)
        }
        defer { BN_free(number) }
        guard BN_to_ASN1_INTEGER(number, X509_get_serialNumber(certificate)) != nil else {
            throw PKIError.openSSL(function: "BN_to_ASN1_INTEGER", making: what)
        }
    }

    /// Adds one extension given in OpenSSL's configuration syntax (fixed strings only, never user input).
    private static func addExtension(_ certificate: OpaquePointer, _ context: inout X509V3_CTX, _ nid: Int32,
                                     _ value: String, making what: String) throws {
        guard let extensionObject = X509V3_EXT_conf_nid(nil, &context, nid, value) else {
            throw PKIError.openSSL(function: "X509V3_EXT_conf_nid(\(value))", making: what)
        }
        defer { X509_EXTENSION_free(extensionObject) }
        guard X509_add_ext(certificate, extensionObject, -1) == 1 else {
            throw PKIError.openSSL(function: "X509_add_ext", making: what)
        }
    }

    /// subjectAltName built name by name (not through the configuration syntax, so no host can inject entries).
    private static func addSubjectAltNames(_ certificate: OpaquePointer, dns: [String], ip: [[UInt8]],
                                           making what: String) throws {
        func fail(_ function: String) -> PKIError { .openSSL(function: function, making: what) }
        guard let names = GENERAL_NAMES_new() else { throw fail("GENERAL_NAMES_new") }
        defer { GENERAL_NAMES_free(names) }

        func push(type: Int32, _ value: UnsafeMutablePointer<ASN1_STRING>) throws {
            guard let name = GENERAL_NAME_new() else {
                ASN1_STRING_free(value)
                throw fail("GENERAL_NAME_new")
            }
            GENERAL_NAME_set0_value(name, type, UnsafeMutableRawPointer(value))  // `name` owns `value` now
            guard edfs_general_names_push(names, name) > 0 else {
                GENERAL_NAME_free(name)
                throw fail("sk_GENERAL_NAME_push")
            }
        }
        for host in dns {
            guard let value = ASN1_IA5STRING_new() else { throw fail("ASN1_IA5STRING_new") }
            guard ASN1_STRING_set(value, host, Int32(host.utf8.count)) == 1 else {
                ASN1_STRING_free(value)
                throw fail("ASN1_STRING_set")
            }
            try push(type: GEN_DNS, value)
        }
        for address in ip {
            guard let value = ASN1_OCTET_STRING_new() else { throw fail("ASN1_OCTET_STRING_new") }
            guard ASN1_OCTET_STRING_set(value, address, Int32(address.count)) == 1 else {
                ASN1_STRING_free(value)
                throw fail("ASN1_OCTET_STRING_set")
            }
            try push(type: GEN_IPADD, value)
        }
        guard X509_add1_ext_i2d(certificate, NID_subject_alt_name, UnsafeMutableRawPointer(names), 0,
                                UInt(X509V3_ADD_DEFAULT)) == 1 else {
            throw fail("X509_add1_ext_i2d(subjectAltName)")
        }
    }

    // MARK: PEM

    /// Reads the first certificate of a PEM file.
    static func readCertificate(path: String) throws -> OpaquePointer {
        guard let bio = BIO_new_file(path, "r") else {
            ERR_clear_error()
            throw PKIError.unreadable(path: path, what: "certificate")
        }
        defer { BIO_free_all(bio) }
        guard let certificate = PEM_read_bio_X509(bio, nil, nil, nil) else {
            ERR_clear_error()
            throw PKIError.unreadable(path: path, what: "certificate")
        }
        return certificate
    }

    /// Reads an unencrypted PEM private key (an encrypted one is refused, never prompted for).
    static func readPrivateKey(path: String) throws -> OpaquePointer {
        guard let bio = BIO_new_file(path, "r") else {
            ERR_clear_error()
            throw PKIError.unreadable(path: path, what: "private key")
        }
        defer { BIO_free_all(bio) }
        guard let key = PEM_read_bio_PrivateKey(bio, nil, { _, _, _, _ in 0 }, nil) else {
            ERR_clear_error()
            throw PKIError.unreadable(path: path, what: "private key")
        }
        return key
    }

    /// The key as unencrypted PKCS#8 PEM (`BEGIN PRIVATE KEY`).
    static func writePrivateKey(_ key: OpaquePointer, to bio: OpaquePointer) -> Bool {
        PEM_write_bio_PrivateKey(bio, key, nil, nil, 0, nil, nil) == 1
    }

    static func writeCertificate(_ certificate: OpaquePointer, to bio: OpaquePointer) -> Bool {
        PEM_write_bio_X509(bio, certificate) == 1
    }

    // MARK: Checks

    static func keyMatches(certificate: OpaquePointer, key: OpaquePointer) -> Bool {
        defer { ERR_clear_error() }
        return X509_check_private_key(certificate, key) == 1
    }

    /// True when `ca`'s name and key identifier match `certificate`'s issuer and `ca`'s key verifies its signature.
    static func isIssued(_ certificate: OpaquePointer, by ca: OpaquePointer) -> Bool {
        defer { ERR_clear_error() }
        guard X509_check_issued(ca, certificate) == X509_V_OK, let caKey = X509_get0_pubkey(ca) else { return false }
        return X509_verify(certificate, caKey) == 1
    }

    static func isCertificateAuthority(_ certificate: OpaquePointer) -> Bool {
        X509_check_ca(certificate) == 1
    }

    static func hasExpired(_ certificate: OpaquePointer) -> Bool {
        guard let notAfter = X509_get0_notAfter(certificate) else { return true }
        return X509_cmp_current_time(notAfter) < 0
    }
}
