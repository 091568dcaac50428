import ArgumentParser
import EDFSClient
import EDFSCrypto
import EDFSFormat
import Foundation

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

    var configPath: String {
        config ?? ProcessInfo.processInfo.environment["EDFS_CONFIG"] ?? "Config/dfc.conf"
    }

    /// Loads the config and prints its warnings.
    func loadConfig() throws -> ClusterConfig {
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
        let password = try passwordSource(prompt: "Password for \(user): ").read(environment: ProcessInfo.processInfo.environment)
        let derivation = PasswordDerivation(password: password)
        return try await ClusterSession.open(config: config, user: user, derivation: derivation,
                                             connector: NodeConnection.connector(config: config, user: user,
                                                                                 derivation: derivation),
                                             kdfIterations: kdfIterations(config), notices: notices())
    }
}

/// Runs `body` with an open session and closes it afterwards, whatever happens.
func withSession<T>(_ options: ClientOptions, _ body: (ClusterSession) async throws -> T) async throws -> T {
    try await options.openSession().closing(body)
}
