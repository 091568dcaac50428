import EDFSCrypto
import EDFSFormat

/// A user's session with the whole cluster: a link per reachable node and the unlocked key bundles.
///
/// Opening one costs one PBKDF2. The first session of a user with no keyslot anywhere creates the key bundle
/// and keyslot (the logins have just proved the password).
public final class ClusterSession: Sendable {
    public let config: ClusterConfig
    public let user: String
    /// Links by node index; nil where the node could not be reached or refused the login.
    private let connected: [(any NodeLink)?]
    /// Nodes lost since the login (a missed deadline, a broken connection): skipped by every later request.
    let lost: LostNodes

    /// Links by node index; nil where the node could not be reached, refused the login, or was lost since.
    public var links: [(any NodeLink)?] {
        let gone = lost.all
        guard !gone.isEmpty else { return connected }
        return connected.indices.map { gone.contains($0) ? nil : connected[$0] }
    }
    /// Why each missing node is missing, by node index.
    public let unreachable: [Int: String]
    /// Key bundles, newest epoch first (two while a rotation is unfinished).
    public let bundles: [KeyBundle]
    /// The keyslot the bundles came from, and the KEK that opened it (for re-sealing without another PBKDF2).
    public let keyslot: Keyslot
    let kek: SymmetricKey
    /// Warnings for stderr (nodes skipped, keyslots repaired).
    public let notices: Notices
    /// Folders this session saw or made (so a put of many files looks each folder up once).
    let knownFolders = KnownFolders()

    init(config: ClusterConfig, user: String, links: [(any NodeLink)?], unreachable: [Int: String],
         bundles: [KeyBundle], keyslot: Keyslot, kek: SymmetricKey, notices: Notices, lost: LostNodes = LostNodes()) {
        self.lost = lost
        self.config = config
        self.user = user
        self.connected = links
        self.unreachable = unreachable
        self.bundles = bundles
        self.keyslot = keyslot
        self.kek = kek
        self.notices = notices
    }

    /// The newest key bundle: new manifests are sealed under it.
    public var currentBundle: KeyBundle { bundles[0] }

    /// The bundle of `epoch`, if the keyslot holds it.
    public func bundle(epoch: UInt32) -> KeyBundle? { bundles.first { $0.epoch == epoch } }

    /// Node indices with a live link.
    public var reachableNodes: [Int] { links.indices.filter { links[$0] != nil } }

    public var nodeCount: Int { connected.count }

    /// The config's name of node `index`.
    public func nodeName(_ index: Int) -> String { config.servers[index].name }

    /// Connects to every node, logs in, and unlocks (or creates) the user's keys. `connector` must log in with the
    /// same `derivation`, so that logins and the keyslot share one PBKDF2.
    public static func open(config: ClusterConfig, user: String, derivation: PasswordDerivation,
                            connector: @escaping NodeConnector, kdfIterations: UInt32 = PBKDF2.defaultIterations,
                            notices: Notices = Notices()) async throws -> ClusterSession {
        let links = try await ClusterLinks.connect(config: config, user: user, connectors: [connector], notices: notices)
        return try await open(links: links, user: user, derivations: [derivation], kdfIterations: kdfIterations,
                              notices: notices)
    }

    /// `open(config:user:derivation:connector:…)` for a connector that derives on its own (it costs a second PBKDF2
    /// when the logins are SCRAM).
    public static func open(config: ClusterConfig, user: String, password: SecureBytes, connector: @escaping NodeConnector,
                            kdfIterations: UInt32 = PBKDF2.defaultIterations, notices: Notices = Notices()) async throws
        -> ClusterSession {
        try await open(config: config, user: user, derivation: PasswordDerivation(password: password), connector: connector,
                       kdfIterations: kdfIterations, notices: notices)
    }

    /// Unlocks (or creates) the user's keys over links already logged in. `derivations` (one per password) are tried
    /// in order against the keyslots (a resumed password change knows two). Closes the links if it fails.
    public static func open(links: ClusterLinks, user: String, derivations: [PasswordDerivation],
                            kdfIterations: UInt32 = PBKDF2.defaultIterations, notices: Notices = Notices(),
                            createKeys: Bool = true) async throws -> ClusterSession {
        do {
            let (slot, kek, bundles) = try await KeyUnlock(links: links.links, user: user, notices: notices)
                .unlockOrCreate(derivations: derivations, kdfIterations: kdfIterations, createKeys: createKeys)
            return ClusterSession(config: links.config, user: user, links: links.links, unreachable: links.unreachable,
                                  bundles: bundles, keyslot: slot, kek: kek, notices: notices)
        } catch {
            await links.close()
            throw error
        }
    }

    /// Closes every link.
    public func close() async {
        for link in connected.compactMap({ $0 }) { await link.close() }
    }

    /// Runs `body` with this session and closes it afterwards, whatever happens.
    public func closing<T>(_ body: (ClusterSession) async throws -> T) async throws -> T {
        do {
            let result = try await body(self)
            await close()
            return result
        } catch {
            await close()
            throw error
        }
    }

    /// The fan-out over this session's links (every per-node request goes through it).
    var fanOut: NodeFanOut { NodeFanOut(links: links, lost: lost) }

    /// The same links with the bundles of another keyslot (after a rotation step re-sealed it).
    func reopened(with slot: Keyslot) throws -> ClusterSession {
        ClusterSession(config: config, user: user, links: connected, unreachable: unreachable,
                       bundles: try slot.unlock(user: user, kek: kek), keyslot: slot, kek: kek, notices: notices,
                       lost: lost)
    }

    /// Refuses, changing nothing, unless every node of the config is logged in.
    func requireEveryNode(_ what: String) throws {
        let missing = (0..<nodeCount).filter { links[$0] == nil }
        guard missing.isEmpty else {
            throw ClientError.notEnoughNodes("\(what) needs every node of the config; unreachable: "
                                             + missing.map(nodeName).joined(separator: ", ") + "; nothing was changed")
        }
    }
}

