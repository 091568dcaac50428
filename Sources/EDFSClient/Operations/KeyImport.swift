import EDFSCrypto
import EDFSFormat

/// `edfs key import`: opens an exported key file with its passphrase and stores it on every node as the user's
/// keyslot under the password, superseding whatever keyslot the nodes hold (none, after they were lost).
public struct KeyImport: Sendable {
    public let links: ClusterLinks
    public let user: String

    public init(links: ClusterLinks, user: String) {
        self.links = links
        self.user = user
    }

    /// Imports with the password `derivation` holds; the new keyslot is linked to the logins' SCRAM verifier where
    /// they used one (one PBKDF2 for login and keyslot), as a first session's would be.
    public func run(exported: [UInt8], passphrase: SecureBytes, derivation: PasswordDerivation,
                    kdfIterations: UInt32) async throws -> KeyStatus {
        let file: Keyslot
        do { file = try Keyslot.decode(exported) } catch {
            throw ClientError.integrity("not an edfs key file: \(error)")
        }
        guard file.header.kdf.iterations <= KeyUnlock.maximumKDFIterations else {
            throw ClientError.integrity("key file asks for too many iterations")
        }
        let bundles: [KeyBundle]
        do {
            bundles = try file.unlock(user: user, password: passphrase, minimumIterations: 1).bundles
        } catch KeyslotError.wrongPassword {
            throw ClientError.authenticationFailed("wrong passphrase for the key file (or it belongs to another user)")
        }
        let missing = (0..<links.links.count).filter { links.links[$0] == nil }
        guard missing.isEmpty else {
            throw ClientError.notEnoughNodes("a key import needs every node of the config; unreachable: "
                                             + missing.map { links.config.servers[$0].name }.joined(separator: ", "))
        }
        let publication = KeyslotPublication(links: links.links)
        var revision = file.header.revision
        for (_, state) in await publication.fetchAll() {
            guard case let .slot(slot) = state else { continue }
            if slot.header.epoch > bundles[0].epoch {
                throw ClientError.failed("the nodes hold keys of a newer key generation (\(slot.header.epoch)) than the "
                                         + "key file (\(bundles[0].epoch)); not replacing it")
            }
            revision = max(revision, slot.header.revision)
        }
        try await requireOwnKeys(bundles)
        let kdf = try KeyUnlock.newKDF(linkedTo: links.links, kdfIterations: kdfIterations)
        let kek = try kdf.deriveKEK(saltedPassword: try await derivation.saltedPassword(salt: kdf.salt,
                                                                                          iterations: kdf.iterations))
        let slot = try Keyslot.seal(user: user, kek: kek, kdf: kdf, revision: revision + 1, bundles: bundles,
                                    reencrypting: file.header.reencrypting)
        if let (node, error) = await publication.store(slot).failures.first {
            throw ClientError.failed("node \(links.config.servers[node].name) did not store the imported keys: \(error); "
                                     + "run the import again")
        }
        return KeyStatus(epoch: slot.header.epoch, epochs: bundles.map(\.epoch), revision: slot.header.revision,
                         kdf: "PBKDF2-HMAC-SHA256", iterations: kdf.iterations, rotationUnfinished: bundles.count > 1,
                         reencrypting: slot.header.reencrypting)
    }

    /// The keys must be the ones the stored files were sealed with: importing another user's or another cluster's
    /// key file over the real keyslot would make everything unreadable. Checks up to 16 manifests of the first node.
    private func requireOwnKeys(_ bundles: [KeyBundle]) async throws {
        guard let first = links.links.indices.first(where: { links.links[$0] != nil }) else { return }
        let fanOut = NodeFanOut(links: links.links)
        let listed = await fanOut.run(on: [first]) { _, link in try await link.listManifests() }
        if let (_, error) = listed.failures.first { throw ClientError.nodeFailure("cannot list manifests: \(error)", error) }
        let ids = (listed.values.first?.value ?? [:]).keys.sorted().prefix(16)
        let fetched = await fanOut.run(on: [first]) { _, link in
            var found = [[UInt8]?]()
            for id in ids { found.append(try? await link.getManifest(id)) }
            return found
        }
        let copies = fetched.values.first?.value ?? []
        var opened = 0
        for case let bytes? in copies {
            guard let header = try? ManifestHeader.decode(prefixOf: bytes),
                  let bundle = bundles.first(where: { $0.epoch == header.keyEpoch }) else { continue }
            if (try? Manifest.open(bytes, masterKey: bundle.masterKey)) != nil { opened += 1 }
        }
        let name = links.config.servers[first].name
        guard ids.isEmpty || opened > 0 else {
            throw ClientError.integrity("the key file opens none of the \(ids.count) stored manifests checked on "
                                        + "\(name): it is not this user's key; nothing was changed")
        }
    }
}
