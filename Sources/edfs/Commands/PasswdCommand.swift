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
        abstract: "Change the password on every node (your keys and files stay as they are).",
        discussion: """
            Locks the same keys with the new password and gives every node a new SCRAM-SHA-256 login check (a user \
            with a legacy MD5 password line is moved to SCRAM). Needs every node of the config. If it is interrupted, \
            run it again with the same passwords.

            Examples:
              edfs passwd
              edfs passwd --new-password-file new.txt
            """)

    @OptionGroup var options: ClientOptions

    @Option(help: "Read the new password from this file (first line) instead of asking twice.")
    var newPasswordFile: String?

    @Flag(help: "Write a legacy MD5 verifier instead of SCRAM-SHA-256 (only for nodes that cannot take SCRAM).")
    var legacyMD5 = false

    func run() async throws {
        try await reportingFailures {
            exitOnInterrupt { "the change may have reached some nodes: run edfs passwd again with the same two passwords" }
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
            let oldDerivation = PasswordDerivation(password: old)
            let newDerivation = PasswordDerivation(password: new)
            // Log in with the old password, or the new one on nodes an interrupted change already moved.
            let links = try await ClusterLinks.connect(
                config: config, user: user,
                connectors: [NodeConnection.connector(config: config, user: user, derivation: oldDerivation),
                             NodeConnection.connector(config: config, user: user, derivation: newDerivation)],
                notices: notices)
            let session = try await ClusterSession.open(links: links, user: user, derivations: [oldDerivation, newDerivation],
                                                        kdfIterations: try options.kdfIterations(config), notices: notices,
                                                        createKeys: false)
            defer { Task { await session.close() } }
            var current = [Int: LoginVerifier]()
            for (node, link) in links.links.enumerated() { if let proven = link?.provenVerifier { current[node] = proven } }
            try await PasswordChange(session).run(to: newDerivation, kdfIterations: try options.kdfIterations(config),
                                                  currentVerifiers: current, legacyMD5: legacyMD5)
            await session.close()
            print("password of \(user) changed on \(session.nodeCount) node(s)")
        }
    }
}
