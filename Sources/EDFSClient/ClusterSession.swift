import EDFSCrypto
import EDFSFormat
import Synchronization

/// Opens a logged-in link to node `index` (the config's server at that position), or throws.
public typealias NodeConnector = @Sendable (_ index: Int, _ server: ClusterConfig.Server) async throws -> any NodeLink

/// A user's session with the whole cluster: a link per reachable node and the unlocked key bundles.
///
/// Opening one costs one PBKDF2. The first session of a user with no keyslot anywhere creates the key bundle
/// and keyslot (the logins have just proved the password).
public final class ClusterSession: Sendable {
    public let config: ClusterConfig
    public let user: String
    /// Links by node index; nil where the node could not be reached or refused the login.
    public let links: [(any NodeLink)?]
    /// Why each missing node is missing, by node index.
    public let unreachable: [Int: String]
    /// Key bundles, newest epoch first (two while a rotation is unfinished).
    public let bundles: [KeyBundle]
    /// The keyslot the bundles came from, and the KEK that opened it (for re-sealing without another PBKDF2).
    public let keyslot: Keyslot
    let kek: SymmetricKey
    /// Warnings for stderr (nodes skipped, keyslots repaired).
    public let notices: Notices

    init(config: ClusterConfig, user: String, links: [(any NodeLink)?], unreachable: [Int: String],
         bundles: [KeyBundle], keyslot: Keyslot, kek: SymmetricKey, notices: Notices) {
        self.config = config
        self.user = user
        self.links = links
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

    public var nodeCount: Int { links.count }

    /// The config's name of node `index`.
    public func nodeName(_ index: Int) -> String { config.servers[index].name }

    /// Connects to every node, logs in, and unlocks (or creates) the user's keys.
    public static func open(config: ClusterConfig, user: String, password: SecureBytes, connector: @escaping NodeConnector,
                            kdfIterations: UInt32 = PBKDF2.defaultIterations, notices: Notices = Notices()) async throws
        -> ClusterSession {
        guard !config.servers.isEmpty else { throw ClientError.usage("\(config.path): no Server lines") }
        let attempts = await withTaskGroup(of: (Int, Result<any NodeLink, any Error>).self) { group in
            for (index, server) in config.servers.enumerated() {
                group.addTask {
                    do { return (index, .success(try await connector(index, server))) } catch { return (index, .failure(error)) }
                }
            }
            var results = [(Int, Result<any NodeLink, any Error>)]()
            for await result in group { results.append(result) }
            return results
        }
        var links = [(any NodeLink)?](repeating: nil, count: config.servers.count)
        var unreachable = [Int: String]()
        var loginRefusals = 0
        for (index, result) in attempts {
            switch result {
            case let .success(link): links[index] = link
            case let .failure(error):
                if case NodeLinkError.authenticationFailed = error { loginRefusals += 1 }
                if case NodeLinkError.throttled = error { loginRefusals += 1 }
                unreachable[index] = String(describing: error)
            }
        }
        let reachable = links.compactMap { $0 }
        if reachable.isEmpty {
            if loginRefusals > 0 {
                throw ClientError.authenticationFailed("wrong password for user \(user) (login refused by \(loginRefusals) node(s))")
            }
            let reasons = unreachable.sorted { $0.key < $1.key }.map { "\(config.servers[$0.key].name): \($0.value)" }
            throw ClientError.notEnoughNodes("no node reachable (\(reasons.joined(separator: "; "))); start the nodes or check the config")
        }
        for (index, reason) in unreachable.sorted(by: { $0.key < $1.key }) {
            notices.add("node \(config.servers[index].name) unavailable: \(reason)")
        }
        do {
            let (slot, kek, bundles) = try await unlockOrCreateKeys(links: links, user: user, password: password,
                                                                      kdfIterations: kdfIterations, notices: notices)
            return ClusterSession(config: config, user: user, links: links, unreachable: unreachable, bundles: bundles,
                                  keyslot: slot, kek: kek, notices: notices)
        } catch {
            for link in reachable { await link.close() }
            throw error
        }
    }

    /// Closes every link.
    public func close() async {
        for link in links.compactMap({ $0 }) { await link.close() }
    }

    // MARK: Keys

    private static func unlockOrCreateKeys(links: [(any NodeLink)?], user: String, password: SecureBytes,
                                           kdfIterations: UInt32, notices: Notices) async throws
        -> (Keyslot, SymmetricKey, [KeyBundle]) {
        let stored = await fetchKeyslots(links: links)
        var newest: Keyslot?
        for case let (_, .some(slot)) in stored where newest.map({ slot.header.supersedes($0.header) }) ?? true {
            newest = slot
        }
        if let newest {
            let kek: SymmetricKey
            let bundles: [KeyBundle]
            do {
                (kek, bundles) = try newest.unlock(user: user, password: password,
                                                   minimumIterations: min(kdfIterations, KeyslotKDF.minimumIterations))
            } catch KeyslotError.wrongPassword {
                throw ClientError.authenticationFailed("wrong password: the keyslot of user \(user) does not open")
            }
            // Nodes that lack the newest keyslot (down during a password change or rotation) get it now.
            for (index, slot) in stored where slot.map({ newest.header.supersedes($0.header) }) ?? true {
                guard let link = links[index] else { continue }
                do { try await link.putKeyslot(newest.bytes) } catch {
                    notices.add("node \(link.nodeName): could not update the keyslot: \(error)")
                }
            }
            return (newest, kek, bundles)
        }
        // No keyslot anywhere: the first login of this user makes the keys.
        let kdf = try KeyslotKDF.generate(iterations: kdfIterations)
        let kek = try kdf.deriveKEK(password: password)
        let bundle = try KeyBundle.generate(epoch: 1)
        let slot = try Keyslot.seal(user: user, kek: kek, kdf: kdf, revision: 1, bundles: [bundle])
        var stored1 = 0
        for link in links.compactMap({ $0 }) {
            do {
                try await link.putKeyslot(slot.bytes)
                stored1 += 1
            } catch NodeLinkError.stale {
                // Another client created the keys first: use theirs.
                return try await unlockOrCreateKeys(links: links, user: user, password: password,
                                                    kdfIterations: kdfIterations, notices: notices)
            } catch {
                notices.add("node \(link.nodeName): could not store the new keyslot: \(error)")
            }
        }
        guard stored1 > 0 else { throw ClientError.notEnoughNodes("no node accepted the new keyslot") }
        notices.add("created the key bundle and keyslot of user \(user) (epoch 1)")
        return (slot, kek, [bundle])
    }

    /// Every reachable node's keyslot (nil where it has none or it does not decode).
    static func fetchKeyslots(links: [(any NodeLink)?]) async -> [(Int, Keyslot?)] {
        await withTaskGroup(of: (Int, Keyslot?).self) { group in
            for (index, link) in links.enumerated() {
                guard let link else { continue }
                group.addTask {
                    guard let bytes = try? await link.getKeyslot(), let slot = try? Keyslot.decode(bytes) else { return (index, nil) }
                    return (index, slot)
                }
            }
            var result = [(Int, Keyslot?)]()
            for await item in group { result.append(item) }
            return result.sorted { $0.0 < $1.0 }
        }
    }

    /// Writes `slot` to every reachable node; returns how many accepted it.
    func storeKeyslot(_ slot: Keyslot) async -> (stored: Int, failures: [String]) {
        var stored = 0
        var failures = [String]()
        for link in links.compactMap({ $0 }) {
            do {
                try await link.putKeyslot(slot.bytes)
                stored += 1
            } catch {
                failures.append("\(link.nodeName): \(error)")
            }
        }
        return (stored, failures)
    }

    // MARK: Fan-out

    /// Runs `body` on every reachable node at once; results by node index.
    func onEveryNode<T: Sendable>(_ body: @escaping @Sendable (Int, any NodeLink) async throws -> T) async -> [Int: Result<T, any Error>] {
        await withTaskGroup(of: (Int, Result<T, any Error>).self) { group in
            for (index, link) in links.enumerated() {
                guard let link else { continue }
                group.addTask {
                    do { return (index, .success(try await body(index, link))) } catch { return (index, .failure(error)) }
                }
            }
            var results = [Int: Result<T, any Error>]()
            for await (index, result) in group { results[index] = result }
            return results
        }
    }
}

/// Warnings collected for stderr, in order; safe to add from any task.
public final class Notices: Sendable {
    private let lines = Mutex<[String]>([])
    private let echo: (@Sendable (String) -> Void)?

    /// `echo`, if given, also receives each line as it is added (the CLI prints them at once).
    public init(echo: (@Sendable (String) -> Void)? = nil) { self.echo = echo }

    public func add(_ line: String) {
        lines.withLock { $0.append(line) }
        echo?(line)
    }

    public var all: [String] { lines.withLock { $0 } }
}
