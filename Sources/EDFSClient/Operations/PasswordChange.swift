import EDFSCrypto
import EDFSFormat

/// `edfs passwd`: a new keyslot (new salt, same key bundles) and a new login verifier on every node.
/// Safe to run again after an interruption, with the same old and new passwords.
public struct PasswordChange: Sendable {
    public let session: ClusterSession

    public init(_ session: ClusterSession) { self.session = session }

    /// Changes the password to `newPassword`. `currentDigests`, by node, is the verifier each node accepted this
    /// session's login with: it is written back first as a probe, so a node that cannot change a verifier refuses
    /// before any keyslot changes.
    public func run(to newPassword: SecureBytes, kdfIterations: UInt32, currentDigests: [Int: [UInt8]] = [:]) async throws {
        try session.requireEveryNode("a password change")
        let probed = await session.fanOut.run(on: Array(currentDigests.keys)) { node, link in
            try await link.setLoginVerifier(.md5(currentDigests[node] ?? []))
        }
        if let (node, error) = probed.failures.first {
            throw ClientError.nodeFailure("node \(session.nodeName(node)) cannot change a login verifier (\(error)); "
                                          + "nothing was changed", error)
        }
        let resume = "the change is incomplete: run edfs passwd again with the same old and new passwords"
        let kdf = try KeyslotKDF.generate(iterations: kdfIterations)
        let newKEK = try kdf.deriveKEK(password: newPassword)
        let slot = try Keyslot.seal(user: session.user, kek: newKEK, kdf: kdf, revision: session.keyslot.header.revision + 1,
                                    bundles: session.bundles, reencrypting: session.keyslot.header.reencrypting)
        try await KeyslotPublication(links: session.links).storeEverywhere(slot, resume: resume)
        let digest = newPassword.withUnsafeBytes { Digest.md5($0) }
        let changed = await session.fanOut.run { _, link in try await link.setLoginVerifier(.md5(digest)) }
        if let (node, error) = changed.failures.first {
            throw ClientError.nodeFailure("node \(session.nodeName(node)) did not take the new password (\(error)); \(resume)",
                                          error)
        }
    }
}
