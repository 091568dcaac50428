import EDFSCrypto
import EDFSFormat

/// `edfs passwd`: a new keyslot (new salt, same key bundles) and a new login verifier on every node — a SCRAM-SHA-256
/// verifier with the keyslot's salt and iterations, so the next command's login and unlock share one PBKDF2 (a
/// legacy MD5 user is upgraded). Safe to run again after an interruption, with the same old and new passwords.
public struct PasswordChange: Sendable {
    public let session: ClusterSession

    public init(_ session: ClusterSession) { self.session = session }

    /// Changes the password to the one `newPassword` derives from. `currentVerifiers`, by node, is what each node's
    /// login proved this session: it is written back first as a probe, so a node that cannot change a verifier
    /// refuses before any keyslot changes. `legacyMD5` writes an MD5 verifier instead (for nodes that cannot take
    /// SCRAM; not for new use).
    public func run(to newPassword: PasswordDerivation, kdfIterations: UInt32,
                    currentVerifiers: [Int: LoginVerifier] = [:], legacyMD5: Bool = false) async throws {
        try session.requireEveryNode("a password change")
        let probed = await session.fanOut.run(on: Array(currentVerifiers.keys)) { node, link in
            guard let verifier = currentVerifiers[node] else { return }
            try await link.setLoginVerifier(verifier)
        }
        if let (node, error) = probed.failures.first {
            throw ClientError.nodeFailure("node \(session.nodeName(node)) cannot change a login verifier (\(error)); "
                                          + "nothing was changed", error)
        }
        let resume = "the change is incomplete: run edfs passwd again with the same old and new passwords"
        let iterations = max(kdfIterations, KeyslotKDF.minimumIterations)
        let kdf = try KeyslotKDF.generate(kind: legacyMD5 ? .pbkdf2 : .scramLinked, iterations: iterations)
        let salted = try await newPassword.saltedPassword(salt: kdf.salt, iterations: kdf.iterations)
        let slot = try Keyslot.seal(user: session.user, kek: kdf.deriveKEK(saltedPassword: salted), kdf: kdf,
                                    revision: session.keyslot.header.revision + 1, bundles: session.bundles,
                                    reencrypting: session.keyslot.header.reencrypting)
        try await KeyslotPublication(links: session.links).storeEverywhere(slot, resume: resume)
        let verifier: LoginVerifier = legacyMD5
            ? .md5(newPassword.legacyMD5Digest)
            : .scram(try SCRAMVerifier(saltedPassword: salted, salt: kdf.salt, iterations: kdf.iterations))
        let changed = await session.fanOut.run { _, link in try await link.setLoginVerifier(verifier) }
        if let (node, error) = changed.failures.first {
            throw ClientError.nodeFailure("node \(session.nodeName(node)) did not take the new password (\(error)); \(resume)",
                                          error)
        }
    }
}
