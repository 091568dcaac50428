import ArgumentParser
import EDFSClient
import EDFSCrypto
import EDFSFormat
import Foundation

/// `edfs user …`
struct UserCommand: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "user", abstract: "Make users for a node config.", subcommands: [UserAddCommand.self])
}

/// `edfs user add NAME`: prints the `Username:`/`Password:` lines of a node config for NAME.
struct UserAddCommand: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "add",
        abstract: "Print the Username:/Password: lines of a node config for a new user.",
        discussion: "SCRAM-SHA-256 by default (a random 16-byte salt, 600,000 iterations); --legacy-md5 prints the "
            + "unsalted MD5 digest of the original dfs.conf format instead (weak: see SECURITY.md). The password is asked "
            + "twice without echo, or read from EDFS_PASSWORD, --password-file or --password-stdin.\n\n"
            + "Examples:\n  edfs user add alice >> dfs.conf      then copy dfs.conf to every node and restart them")

    @Argument(help: "The user name (1–64 of A–Z a–z 0–9 . _ -, not starting with . or -).")
    var name: String

    @Flag(help: "Print a legacy MD5 digest instead of a SCRAM verifier (password-equivalent: avoid).")
    var legacyMD5 = false

    @Option(help: "PBKDF2 iterations of the SCRAM verifier (100000 to 100000000).")
    var iterations: UInt32 = PBKDF2.defaultIterations

    @Option(help: "Read the password from this file (first line).")
    var passwordFile: String?

    @Flag(help: "Read the password from standard input (first line).")
    var passwordStdin = false

    func validate() throws {
        guard NameRules.isValidUserName(name) else {
            throw ValidationError("bad user name \"\(name)\" (1–64 of A–Z a–z 0–9 . _ -, not starting with . or -)")
        }
        guard PasswordDerivation.iterationRange.contains(iterations) else {
            throw ValidationError("--iterations must be \(PasswordDerivation.iterationRange.lowerBound) to "
                + "\(PasswordDerivation.iterationRange.upperBound)")
        }
        guard !(passwordFile != nil && passwordStdin) else {
            throw ValidationError("give --password-file or --password-stdin, not both")
        }
    }

    func run() async throws {
        try await reportingFailures {
            let environment = ProcessInfo.processInfo.environment
            let source = PasswordSource.choose(file: passwordFile, standardInput: passwordStdin, environment: environment,
                                               prompt: "Password for \(name): ")
            let password = try source.read(environment: environment)
            if case .prompt = source {
                let again = try PasswordSource.prompt("Password again: ").read(environment: environment)
                guard password.constantTimeEquals(again) else { throw PasswordError.mismatch }
            }
            let verifier: LoginVerifier
            if legacyMD5 {
                verifier = .md5(password.withUnsafeBytes { Digest.md5($0) })
            } else {
                let salt = try SecureRandom.bytes(16)
                let salted = try SCRAM.saltedPassword(password: password, salt: salt, iterations: iterations)
                verifier = .scram(try SCRAMVerifier(saltedPassword: salted, salt: salt, iterations: iterations))
            }
            print("Username: \(name)")
            print("Password: \(verifier.configValue)")
        }
    }
}
