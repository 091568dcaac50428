import EDFSCrypto
import EDFSFormat

/// `edfs key export`: the key bundle(s) as a keyslot file under a separate passphrase.
public struct KeyExport: Sendable {
    public let session: ClusterSession

    public init(_ session: ClusterSession) { self.session = session }

    public func run(passphrase: SecureBytes, kdfIterations: UInt32) throws -> [UInt8] {
        let kdf = try KeyslotKDF.generate(iterations: kdfIterations)
        let exportKEK = try kdf.deriveKEK(password: passphrase)
        return try Keyslot.seal(user: session.user, kek: exportKEK, kdf: kdf, revision: session.keyslot.header.revision,
                                bundles: session.bundles, reencrypting: session.keyslot.header.reencrypting).bytes
    }
}
