import EDFSFormat

/// The `type` label of the request metrics: one value per request type of the protocol, `unknown` for any other
/// type byte. A fixed set, so a peer cannot grow the number of series.
enum RequestTypeLabel: String, Sendable, CaseIterable {
    case hello, login, loginContinue = "login_continue", status, setVerifier = "set_verifier"
    case putObject = "put_object", getObject = "get_object", statObject = "stat_object"
    case deleteObject = "delete_object", list
    case putManifest = "put_manifest", getManifest = "get_manifest", getManifests = "get_manifests"
    case putManifests = "put_manifests"
    case deleteManifest = "delete_manifest"
    case putKeyslot = "put_keyslot", getKeyslot = "get_keyslot", getKeyslotHistory = "get_keyslot_history"
    case unknown

    init(_ type: WireFrameType) {
        switch type {
        case .hello: self = .hello
        case .login: self = .login
        case .loginContinue: self = .loginContinue
        case .status: self = .status
        case .setVerifier: self = .setVerifier
        case .putObject: self = .putObject
        case .getObject: self = .getObject
        case .statObject: self = .statObject
        case .deleteObject: self = .deleteObject
        case .list: self = .list
        case .putManifest: self = .putManifest
        case .getManifest: self = .getManifest
        case .getManifests: self = .getManifests
        case .putManifests: self = .putManifests
        case .deleteManifest: self = .deleteManifest
        case .putKeyslot: self = .putKeyslot
        case .getKeyslot: self = .getKeyslot
        case .getKeyslotHistory: self = .getKeyslotHistory
        default: self = .unknown
        }
    }
}

/// The `result` label of the request metrics: `ok`, `cancelled` (the client sent CANCEL), `abandoned` (the
/// connection ended first), or the name of the error code the node answered with (`other_error` for a code this
/// list does not name). A fixed set.
enum RequestResultLabel: String, Sendable {
    case ok, cancelled, abandoned
    case malformed, unsupported, tooLarge = "too_large", notAuthenticated = "not_authenticated"
    case authenticationFailed = "authentication_failed", throttled, invalidName = "invalid_name"
    case notFound = "not_found", conflict, staleVersion = "stale_version", checksumMismatch = "checksum_mismatch"
    case lengthMismatch = "length_mismatch", storageFull = "storage_full", ioError = "io_error"
    case limitExceeded = "limit_exceeded", `internal`, timeout, useLegacyLogin = "use_legacy_login"
    case otherError = "other_error"

    init(_ code: WireErrorCode) {
        switch code {
        case .malformed: self = .malformed
        case .unsupported: self = .unsupported
        case .tooLarge: self = .tooLarge
        case .notAuthenticated: self = .notAuthenticated
        case .authenticationFailed: self = .authenticationFailed
        case .throttled: self = .throttled
        case .invalidName: self = .invalidName
        case .notFound: self = .notFound
        case .conflict: self = .conflict
        case .staleVersion: self = .staleVersion
        case .checksumMismatch: self = .checksumMismatch
        case .lengthMismatch: self = .lengthMismatch
        case .storageFull: self = .storageFull
        case .ioError: self = .ioError
        case .limitExceeded: self = .limitExceeded
        case .internal: self = .internal
        case .timeout: self = .timeout
        case .useLegacyLogin: self = .useLegacyLogin
        default: self = .otherError
        }
    }
}

/// The `reason` label of `edfs_login_failures_total`.
enum LoginFailureLabel: String, Sendable {
    /// Wrong user name or password (an unknown user looks the same), or a refused legacy login.
    case wrongCredentials = "wrong_credentials"
    /// Refused without checking: the (user, address) pair is locked or the address spent its failures.
    case throttled
    /// Anything else: a malformed SCRAM message, a wrong channel binding, a damaged stored verifier.
    case other

    init(_ code: WireErrorCode) {
        switch code {
        case .authenticationFailed: self = .wrongCredentials
        case .throttled: self = .throttled
        default: self = .other
        }
    }
}

/// The `result` label of `edfs_scrubs_total`.
enum ScrubResultLabel: String, Sendable {
    /// Every file checked out.
    case clean
    /// At least one file failed its checksum.
    case corrupt
    /// The node stopped during the scrub.
    case interrupted
    /// The scrub itself failed (an I/O error walking the data folder).
    case failed
}
