import EDFSFormat

/// Opens a logged-in link to node `index` (the config's server at that position), or throws.
public typealias NodeConnector = @Sendable (_ index: Int, _ server: ClusterConfig.Server) async throws -> any NodeLink

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

    /// Logs in to every node at once, trying `connectors` in order on a node that refuses a login. Each node has the
    /// config's `LoginTimeout` (default `RequestDeadline.seconds`) to answer before it counts as unreachable.
    public static func connect(config: ClusterConfig, user: String, connectors: [NodeConnector],
                               notices: Notices) async throws -> ClusterLinks {
        guard !config.servers.isEmpty else { throw ClientError.usage("\(config.path): no Server lines") }
        let servers = config.servers
        let deadline = try config.seconds("LoginTimeout").map { Double($0.components.seconds)
            + Double($0.components.attoseconds) / 1e18 } ?? RequestDeadline.seconds
        let attempts = await NodeFanOut.run(indices: Array(servers.indices), deadline: deadline,
                                            label: { "login to \(servers[$0].name)" }) { index -> (any NodeLink, Int) in
            var lastError: any Error = NodeLinkError.unreachable("no connector")
            for (which, connector) in connectors.enumerated() {
                do {
                    return (try await connector(index, servers[index]), which)
                } catch {
                    lastError = error
                    guard case NodeLinkError.authenticationFailed = error else { break }
                }
            }
            throw lastError
        }
        var links = [(any NodeLink)?](repeating: nil, count: servers.count)
        var unreachable = [Int: String]()
        var used = [Int: Int]()
        for (index, (link, which)) in attempts.values {
            links[index] = link
            used[index] = which
        }
        var loginRefusals = 0
        var throttled = 0
        for (index, error) in attempts.failures {
            if case NodeLinkError.authenticationFailed = error { loginRefusals += 1 }
            if case NodeLinkError.throttled = error { throttled += 1 }
            unreachable[index] = String(describing: error)
        }
        if links.allSatisfy({ $0 == nil }) {
            if loginRefusals > 0 {
                throw ClientError.authenticationFailed("wrong password for user \(user) (login refused by \(loginRefusals) node(s)): check the password and --user (5 wrong tries in a row lock this user out from this address for 5 minutes)")
            }
            if throttled > 0 {
                throw ClientError.authenticationFailed("too many failed logins for user \(user): the nodes refuse this user's logins from this address for up to 5 minutes; wait, then try again")
            }
            // One line however many nodes: nodes that failed the same way are named together.
            var groups = [(reason: String, nodes: [String])]()
            for (index, error) in attempts.failures.sorted(by: { $0.node < $1.node }) {
                let reason = Self.reason(error)
                if let at = groups.firstIndex(where: { $0.reason == reason }) {
                    groups[at].nodes.append(servers[index].name)
                } else {
                    groups.append((reason, [servers[index].name]))
                }
            }
            let described = groups.map { "\($0.nodes.joined(separator: ", ")): \($0.reason)" }.joined(separator: "; ")
            if attempts.failures.allSatisfy({ Self.refusedForLimit($0.error) }) {
                // Every node is up and answered: it refused one more connection of this user (attack finding).
                throw ClientError.notEnoughNodes("every node refused the connection: \(described); wait for this user's "
                                                 + "other edfs commands to finish, or raise the nodes' limits (docs/CONFIG.md)")
            }
            throw ClientError.notEnoughNodes("no node reachable: \(described); start the nodes or check \(config.path)")
        }
        for (index, reason) in unreachable.sorted(by: { $0.key < $1.key }) {
            notices.add("node \(servers[index].name) unavailable: \(reason)")
        }
        if loginRefusals > 0 {
            notices.add("\(loginRefusals) node(s) refused this password while others took it: a password change of "
                        + "\(user) may not have finished; run edfs passwd again with the same old and new passwords")
        }
        return ClusterLinks(config: config, links: links, unreachable: unreachable, connectorUsed: used)
    }

    /// Why a node could not be used, without its address (the caller names the node).
    /// Whether the node answered a login by refusing one more connection (FATAL `limit exceeded`): it is up.
    static func refusedForLimit(_ error: any Error) -> Bool {
        if case let NodeConnectionError.closed(_, reason) = error { return reason.hasPrefix("limit exceeded") }
        return false
    }

    static func reason(_ error: any Error) -> String {
        switch error {
        case let NodeConnectionError.connectFailed(_, reason): return reason
        case let NodeConnectionError.tlsFailed(_, reason): return "TLS: " + reason
        case let NodeConnectionError.closed(_, reason): return "connection closed: " + reason
        default: return String(describing: error)
        }
    }

    /// Closes every link.
    public func close() async {
        for link in links.compactMap({ $0 }) { await link.close() }
    }
}
