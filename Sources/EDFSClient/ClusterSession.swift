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

    /// Seconds a node may take to answer one request before it is treated as unreachable for it.
    public static let requestTimeout: Double = 30

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
        let links = try await ClusterLinks.connect(config: config, user: user, connectors: [connector], notices: notices)
        return try await open(links: links, user: user, passwords: [password], kdfIterations: kdfIterations, notices: notices)
    }

    /// Unlocks (or creates) the user's keys over links already logged in. `passwords` are tried in order against the
    /// newest keyslot (a resumed password change knows two). Closes the links if it fails.
    public static func open(links: ClusterLinks, user: String, passwords: [SecureBytes],
                            kdfIterations: UInt32 = PBKDF2.defaultIterations, notices: Notices = Notices(),
                            createKeys: Bool = true) async throws -> ClusterSession {
        do {
            let (slot, kek, bundles) = try await unlockOrCreateKeys(links: links.links, user: user, passwords: passwords,
                                                                      kdfIterations: kdfIterations, notices: notices,
                                                                      createKeys: createKeys)
            return ClusterSession(config: links.config, user: user, links: links.links, unreachable: links.unreachable,
                                  bundles: bundles, keyslot: slot, kek: kek, notices: notices)
        } catch {
            await links.close()
            throw error
        }
    }

    /// Closes every link.
    public func close() async {
        for link in links.compactMap({ $0 }) { await link.close() }
    }

    // MARK: Keys

    /// Most PBKDF2 iterations a client will run for a stored keyslot: a node cannot make it spin for hours.
    static let maximumKDFIterations: UInt32 = 100_000_000

    private static func unlockOrCreateKeys(links: [(any NodeLink)?], user: String, passwords: [SecureBytes],
                                           kdfIterations: UInt32, notices: Notices, createKeys: Bool,
                                           retried: Bool = false) async throws
        -> (Keyslot, SymmetricKey, [KeyBundle]) {
        let stored = await fetchKeyslots(links: links)
        var newest: Keyslot?
        for case let (_, .slot(slot)) in stored {
            guard let current = newest else {
                newest = slot
                continue
            }
            if slot.header.supersedes(current.header) {
                newest = slot
            } else if !current.header.supersedes(slot.header) && slot.bytes != current.bytes {
                throw ClientError.integrity("nodes hold two different keyslots of user \(user) at epoch \(slot.header.epoch) "
                                            + "revision \(slot.header.revision); refusing to guess which holds the keys")
            }
        }
        if let newest {
            guard newest.header.kdf.iterations <= maximumKDFIterations else {
                throw ClientError.integrity("the keyslot of user \(user) asks for \(newest.header.kdf.iterations) PBKDF2 "
                                            + "iterations (more than \(maximumKDFIterations)); refusing it")
            }
            var opened: (kek: SymmetricKey, bundles: [KeyBundle])?
            for password in passwords where opened == nil {
                do {
                    opened = try newest.unlock(user: user, password: password,
                                               minimumIterations: min(kdfIterations, KeyslotKDF.minimumIterations))
                } catch KeyslotError.wrongPassword {
                    continue
                }
            }
            guard let (kek, bundles) = opened else {
                // An older keyslot that does open means a password change stopped half-way.
                let older = stored.compactMap { _, state -> Keyslot? in
                    if case let .slot(slot) = state, newest.header.supersedes(slot.header) { return slot }
                    return nil
                }
                for slot in older where slot.header.kdf.iterations <= maximumKDFIterations {
                    for password in passwords where (try? slot.unlock(user: user, password: password,
                                                                       minimumIterations: 1)) != nil {
                        throw ClientError.authenticationFailed("this is the old password: a password change of user \(user) "
                                                               + "did not finish on every node; run edfs passwd again")
                    }
                }
                throw ClientError.authenticationFailed("wrong password: the keyslot of user \(user) does not open")
            }
            // Nodes that lack the newest keyslot (down during a password change or rotation) get it now.
            for (index, state) in stored {
                if case let .slot(slot) = state, !newest.header.supersedes(slot.header) { continue }
                if case .failed = state { continue }
                guard let link = links[index] else { continue }
                do { try await link.putKeyslot(newest.bytes) } catch {
                    notices.add("node \(link.nodeName): could not update the keyslot: \(error)")
                }
            }
            return (newest, kek, bundles)
        }
        // No keyslot anywhere. New keys are made only when every node of the config answered that it has none:
        // keys made while the node that holds the real keyslot is down would split the user's data in two.
        guard createKeys else { throw ClientError.failed("user \(user) has no keyslot on the nodes") }
        let failures = stored.compactMap { index, state -> String? in
            if case let .failed(reason) = state { return "node \(index + 1): \(reason)" }
            return nil
        }
        guard links.allSatisfy({ $0 != nil }), failures.isEmpty else {
            throw ClientError.notEnoughNodes("no keyslot of user \(user) could be read and not every node answered "
                                             + "(\(failures.isEmpty ? "some are unreachable" : failures.joined(separator: "; "))); "
                                             + "not creating new keys until every node is reachable")
        }
        // Manifests without any keyslot mean the keyslots were lost, not that the user is new: new keys would
        // make that data unreadable. `edfs key import` restores an exported key bundle instead.
        var manifests = 0
        for link in links.compactMap({ $0 }) {
            do {
                manifests += try await withDeadline(requestTimeout, link.nodeName) { try await link.listManifests() }.count
            } catch {
                throw ClientError.notEnoughNodes("node \(link.nodeName) could not list its manifests (\(error)); "
                                                 + "not creating new keys")
            }
        }
        guard manifests == 0 else {
            throw ClientError.failed("user \(user) has stored files but no keyslot on any node; restore the keys with "
                                     + "edfs key import FILE instead of creating new ones")
        }
        guard let password = passwords.first else { throw ClientError.usage("no password") }
        let kdf = try KeyslotKDF.generate(iterations: kdfIterations)
        let kek = try kdf.deriveKEK(password: password)
        let bundle = try KeyBundle.generate(epoch: 1)
        let slot = try Keyslot.seal(user: user, kek: kek, kdf: kdf, revision: 1, bundles: [bundle])
        for link in links.compactMap({ $0 }) {
            do {
                try await link.putKeyslot(slot.bytes)
            } catch NodeLinkError.stale where !retried {
                // Another client created the keys first: use theirs (once; a second conflict is an error).
                return try await unlockOrCreateKeys(links: links, user: user, passwords: passwords,
                                                    kdfIterations: kdfIterations, notices: notices, createKeys: createKeys,
                                                    retried: true)
            } catch {
                throw ClientError.notEnoughNodes("node \(link.nodeName) did not store the new keyslot (\(error)); "
                                                 + "run the command again")
            }
        }
        notices.add("created the key bundle and keyslot of user \(user) (epoch 1)")
        return (slot, kek, [bundle])
    }

    /// What one node said about the user's keyslot.
    enum KeyslotState: Sendable {
        case slot(Keyslot)
        case absent
        case failed(String)
    }

    /// Every reachable node's keyslot answer, by node index.
    static func fetchKeyslots(links: [(any NodeLink)?]) async -> [(Int, KeyslotState)] {
        await withTaskGroup(of: (Int, KeyslotState).self) { group in
            for (index, link) in links.enumerated() {
                guard let link else { continue }
                group.addTask {
                    do {
                        guard let bytes = try await withDeadline(ClusterSession.requestTimeout, "keyslot", {
                            try await link.getKeyslot()
                        }) else { return (index, .absent) }
                        return (index, .slot(try Keyslot.decode(bytes)))
                    } catch {
                        return (index, .failed(String(describing: error)))
                    }
                }
            }
            var result = [(Int, KeyslotState)]()
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
                    do {
                        return (index, .success(try await withDeadline(ClusterSession.requestTimeout, link.nodeName) {
                            try await body(index, link)
                        }))
                    } catch { return (index, .failure(error)) }
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

/// Logged-in links to the nodes of a config, before any key is touched.
public struct ClusterLinks: Sendable {
    public let config: ClusterConfig
    /// By node index; nil where the node could not be reached or refused every login.
    public let links: [(any NodeLink)?]
    /// Why each missing node is missing.
    public let unreachable: [Int: String]
    /// For each logged-in node, the index of the connector that worked (a resumed password change logs some nodes
    /// in with the old password and others with the new one).
    public let connectorUsed: [Int: Int]

    public var allReachable: Bool { links.allSatisfy { $0 != nil } }

    /// Logs in to every node at once, trying `connectors` in order on a node that refuses a login.
    public static func connect(config: ClusterConfig, user: String, connectors: [NodeConnector],
                               notices: Notices) async throws -> ClusterLinks {
        guard !config.servers.isEmpty else { throw ClientError.usage("\(config.path): no Server lines") }
        let attempts = await withTaskGroup(of: (Int, Result<(any NodeLink, Int), any Error>).self) { group in
            for (index, server) in config.servers.enumerated() {
                group.addTask {
                    var lastError: any Error = NodeLinkError.unreachable("no connector")
                    for (which, connector) in connectors.enumerated() {
                        do {
                            let link = try await withDeadline(ClusterSession.requestTimeout, "login") {
                                try await connector(index, server)
                            }
                            return (index, .success((link, which)))
                        } catch {
                            lastError = error
                            guard case NodeLinkError.authenticationFailed = error else { break }
                        }
                    }
                    return (index, .failure(lastError))
                }
            }
            var results = [(Int, Result<(any NodeLink, Int), any Error>)]()
            for await result in group { results.append(result) }
            return results
        }
        var links = [(any NodeLink)?](repeating: nil, count: config.servers.count)
        var unreachable = [Int: String]()
        var used = [Int: Int]()
        var loginRefusals = 0
        var throttled = 0
        for (index, result) in attempts {
            switch result {
            case let .success((link, which)):
                links[index] = link
                used[index] = which
            case let .failure(error):
                if case NodeLinkError.authenticationFailed = error { loginRefusals += 1 }
                if case NodeLinkError.throttled = error { throttled += 1 }
                unreachable[index] = String(describing: error)
            }
        }
        if links.allSatisfy({ $0 == nil }) {
            if loginRefusals > 0 {
                throw ClientError.authenticationFailed("wrong password for user \(user) (login refused by \(loginRefusals) node(s))")
            }
            if throttled > 0 {
                throw ClientError.authenticationFailed("too many failed logins for user \(user): the nodes refuse logins for a while; try again later")
            }
            let reasons = unreachable.sorted { $0.key < $1.key }.map { "\(config.servers[$0.key].name): \($0.value)" }
            throw ClientError.notEnoughNodes("no node reachable (\(reasons.joined(separator: "; "))); start the nodes or check the config")
        }
        for (index, reason) in unreachable.sorted(by: { $0.key < $1.key }) {
            notices.add("node \(config.servers[index].name) unavailable: \(reason)")
        }
        if loginRefusals > 0 {
            notices.add("\(loginRefusals) node(s) refused this password while others took it: a password change of "
                        + "\(user) may not have finished; run edfs passwd again with the same old and new passwords")
        }
        return ClusterLinks(config: config, links: links, unreachable: unreachable, connectorUsed: used)
    }

    /// Closes every link.
    public func close() async {
        for link in links.compactMap({ $0 }) { await link.close() }
    }
}
