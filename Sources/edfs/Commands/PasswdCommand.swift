import ArgumentParser
import EDFSClient
import EDFSCrypto
import EDFSFormat
import Foundation
import Synchronization
#if canImport(Glibc)
import Glibc
#endif

/// `edfs passwd`
struct PasswdCommand: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "passwd",
        abstract: "Change the password: a new keyslot (same keys) and a new login verifier on every node.",
        discussion: "Needs every node of the config. If it is interrupted, run it again with the same passwords.")

    @OptionGroup var options: ClientOptions

    @Option(help: "Read the new password from this file (first line) instead of asking twice.")
    var newPasswordFile: String?

    func run() async throws {
        try await reportingFailures {
            let config = try options.loadConfig()
            let user = try options.userName(config)
            let environment = ProcessInfo.processInfo.environment
            let old = try options.passwordSource(prompt: "Old password for \(user): ").read(environment: environment)
            let new: SecureBytes
            if let newPasswordFile {
                new = try PasswordSource.file(newPasswordFile).read(environment: environment)
            } else if let variable = environment["EDFS_NEW_PASSWORD"], !variable.isEmpty {
                new = try PasswordSource.environment("EDFS_NEW_PASSWORD").read(environment: environment)
            } else {
                new = try PasswordSource.prompt("New password: ").read(environment: environment)
                let again = try PasswordSource.prompt("New password again: ").read(environment: environment)
                guard new.constantTimeEquals(again) else { throw PasswordError.mismatch }
            }
            let notices = options.notices()
            // Log in with the old password, or the new one on nodes an interrupted change already moved.
            let links = try await ClusterLinks.connect(
                config: config, user: user,
                connectors: [NodeConnection.connector(config: config, user: user, password: old),
                             NodeConnection.connector(config: config, user: user, password: new)],
                notices: notices)
            let session = try await ClusterSession.open(links: links, user: user, passwords: [old, new],
                                                        kdfIterations: try options.kdfIterations(config), notices: notices,
                                                        createKeys: false)
            defer { Task { await session.close() } }
            let digests = [NodeConnection.legacyPasswordDigest(old), NodeConnection.legacyPasswordDigest(new)]
            let current = links.connectorUsed.mapValues { digests[$0] }
            try await PasswordChange(session).run(to: new, kdfIterations: try options.kdfIterations(config),
                                             currentDigests: current)
            await session.close()
            print("password of \(user) changed on \(session.nodeCount) node(s)")
        }
    }
}
