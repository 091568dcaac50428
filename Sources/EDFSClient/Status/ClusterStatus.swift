import EDFSFormat

/// What `edfs status` reports: every node of the config, logged in to (no keyslot is read or unlocked) and asked
/// for STATUS, and the cluster's state from how many answered (docs/CLI.md).
public struct ClusterStatus: Sendable, Codable, Equatable {
    /// One entry per node, in config order.
    public var nodes: [NodeHealth]
    public var state: ClusterState
    /// The quorums the state was judged by.
    public var commitQuorum: Int
    public var readQuorum: Int

    public init(nodes: [NodeHealth], state: ClusterState, commitQuorum: Int, readQuorum: Int) {
        self.nodes = nodes
        self.state = state
        self.commitQuorum = commitQuorum
        self.readQuorum = readQuorum
    }

    /// Logs in to every node of `config` at once with `connector` (each under the request deadline), asks each
    /// for STATUS and closes the links. Throws `ClientError.authenticationFailed` only when every node that answered
    /// refused the login (a wrong password is not an outage).
    public static func gather(config: ClusterConfig, user: String, connector: @escaping NodeConnector) async throws
        -> ClusterStatus {
        guard !config.servers.isEmpty else { throw ClientError.usage("\(config.path): no Server lines") }
        let servers = config.servers
        let answers = await NodeFanOut.run(indices: Array(servers.indices), deadline: RequestDeadline.seconds,
                                           label: { "status of \(servers[$0].name)" }) { index -> WireNodeStatus in
            let link = try await connector(index, servers[index])
            do {
                let status = try await link.status()
                await link.close()
                return status
            } catch {
                await link.close()
                throw error
            }
        }
        var nodes: [NodeHealth] = servers.map {
            NodeHealth(name: $0.name, address: HostPort.text(host: $0.host, port: $0.port), reachable: false)
        }
        for (index, status) in answers.values {
            nodes[index].reachable = true
            nodes[index].status = status
        }
        var refusals = 0, throttled = 0
        for (index, error) in answers.failures {
            if case NodeLinkError.authenticationFailed = error { refusals += 1 }
            if case NodeLinkError.throttled = error { throttled += 1 }
            nodes[index].reason = NodeHealth.reason(for: error)
        }
        // Nodes that answered a login, refusing it, are up: this user's password (or its lock-out) is the problem,
        // not the cluster (exit 77, never `down`).
        if answers.values.isEmpty && refusals + throttled > 0 {
            if refusals == 0 {
                throw ClientError.authenticationFailed("too many failed logins for user \(user): \(throttled) node(s) "
                    + "refuse this user's logins from this address for up to 5 minutes; wait, then try again")
            }
            throw ClientError.authenticationFailed("wrong password for user \(user) (login refused by \(refusals) node(s)): check the password and --user")
        }
        let reachable = nodes.filter(\.reachable).count
        let state = ClusterState.of(reachable: reachable, nodes: nodes.count, commitQuorum: config.commitQuorum,
                                    readQuorum: config.readQuorum,
                                    corruptionFound: nodes.contains(where: \.scrubFoundCorruption),
                                    lowOnSpace: nodes.contains(where: \.lowOnSpace))
        return ClusterStatus(nodes: nodes, state: state, commitQuorum: config.commitQuorum,
                             readQuorum: config.readQuorum)
    }
}
