import EDFSFormat
import Foundation

extension LocalCluster {
    /// What an earlier `edfs cluster up` left in a folder: its node config's users (with their login verifiers),
    /// node count and first port, and its client config's replica count. Read before any password is asked for, so
    /// a second `cluster up` logs in as the existing user instead of making a new one.
    public struct ExistingSetup: Sendable, Equatable {
        /// The users of `DIR/dfs.conf`, in file order.
        public var users: [String]
        /// The `Username:`/`Password:` lines of every user, verifiers as they stand.
        public var userLines: [String]
        /// The number of `Server` lines (placement depends on it).
        public var nodes: Int
        /// The port of the first `Server` line.
        public var basePort: Int
        /// `Replicas:` of `DIR/dfc.conf`, when that file exists and parses.
        public var replicas: Int?

        /// The setup in `directory`, or nil when it has no `dfs.conf`. A `dfs.conf` that does not parse throws the
        /// parser's error (it names the file and line).
        public static func read(directory: String) throws -> ExistingSetup? {
            let nodeConfig = directory + "/dfs.conf"
            guard FileManager.default.fileExists(atPath: nodeConfig) else { return nil }
            let config = try ClusterConfig.load(path: nodeConfig)
            var lines: [String] = []
            for user in config.users {
                lines.append("Username: \(user.name)")
                if let verifier = user.loginVerifier { lines.append("Password: \(verifier.configValue)") }
            }
            let replicas = (try? ClusterConfig.load(path: directory + "/dfc.conf"))?.replicas
            return ExistingSetup(users: config.users.map(\.name), userLines: lines, nodes: config.servers.count,
                                 basePort: config.servers.first?.port ?? 10001, replicas: replicas)
        }
    }
}
