import ArgumentParser
import EDFSClient
import EDFSCrypto
import EDFSFormat
import Foundation
import Logging

/// Options every client command shares (docs/CLI.md, "Common options").
struct ClientOptions: ParsableArguments {
    @Option(help: "Client config (default: $EDFS_CONFIG, else Config/dfc.conf).")
    var config: String?

    @Option(help: "User name (default: the config's first Username:).")
    var user: String?

    @Option(help: "Read the password from this file (first line).")
    var passwordFile: String?

    @Flag(help: "Read the password from standard input (first line).")
    var passwordStdin = false

    @Flag(name: [.customShort("v"), .customLong("verbose"), .customLong("debug")],
          help: "Log each node's connect, TLS and login steps, and the library error behind a failure, on stderr.")
    var verbose = false

    var configPath: String {
        config ?? environmentConfig ?? "Config/dfc.conf"
    }

    /// `$EDFS_CONFIG`, unless unset or empty.
    private var environmentConfig: String? {
        ProcessInfo.processInfo.environment["EDFS_CONFIG"].flatMap { $0.isEmpty ? nil : $0 }
    }

    /// Loads the config and prints its warnings.
    func loadConfig() throws -> ClusterConfig {
        DiagnosticLog.start(verbose: verbose)
        guard FileManager.default.fileExists(atPath: configPath) else {
            let source = config != nil ? "--config" : environmentConfig != nil ? "EDFS_CONFIG" : nil
            throw ClientError.failed(source.map { "\(configPath) (from \($0)): no such file: check the path" }
                ?? "no client config: pass --config FILE or set EDFS_CONFIG to the dfc.conf of your cluster "
                    + "(edfs cluster up prints its path)")
        }
        let config = try ClusterConfig.load(path: configPath)
        for warning in config.warnings { printError("warning: \(warning)") }
        return config
    }

    /// `--user`, or the config's first `Username:`.
    func userName(_ config: ClusterConfig) throws -> String {
        guard let user = user ?? config.defaultUser else {
            throw ClientError.usage("no user: pass --user NAME or add a Username: line to \(configPath)")
        }
        guard NameRules.isValidUserName(user) else { throw ClientError.usage("invalid user name \"\(user)\"") }
        return user
    }

    /// Where the (current) password comes from.
    func passwordSource(prompt: String) -> PasswordSource {
        PasswordSource.choose(file: passwordFile, standardInput: passwordStdin,
                              environment: ProcessInfo.processInfo.environment, prompt: prompt)
    }

    /// The config's `KDFIterations:`, or the default.
    func kdfIterations(_ config: ClusterConfig) throws -> UInt32 {
        try config.integer("KDFIterations").map { UInt32(clamping: $0) } ?? PBKDF2.defaultIterations
    }

    /// Notices printed on stderr as they come.
    func notices() -> Notices { Notices(echo: { printError("note: \($0)") }) }

    /// Loads the config, reads the password, and opens the session.
    func openSession() async throws -> ClusterSession {
        let config = try loadConfig()
        let user = try userName(config)
        let trust = try clusterTrust(config)  // a config problem is said before the password prompt
        let password = try passwordSource(prompt: "Password for \(user): ").read(environment: ProcessInfo.processInfo.environment)
        let derivation = PasswordDerivation(password: password)
        return try await ClusterSession.open(config: config, user: user, derivation: derivation,
                                             connector: NodeConnection.connector(trust: trust, user: user,
                                                                                 derivation: derivation),
                                             kdfIterations: kdfIterations(config), notices: notices())
    }

    /// The TLS trust of the config's CA file, or a one-line error naming the file and the config line to fix.
    func clusterTrust(_ config: ClusterConfig) throws -> NodeTLSTrust {
        do {
            return try NodeTLSTrust(caFile: config.caFile)
        } catch {
            var why = error.description
            if case let .trust(text) = error { why = text }
            throw ClientError.failed("the CA certificate of \(configPath) cannot be used: \(why): fix the CA: or Keys: "
                                     + "line, or copy the cluster's ca.crt there")
        }
    }

}

/// Runs `body` with an open session and closes it afterwards, whatever happens.
func withSession<T>(_ options: ClientOptions, _ body: (ClusterSession) async throws -> T) async throws -> T {
    try await options.openSession().closing(body)
}
