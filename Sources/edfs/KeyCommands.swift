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

/// `edfs key …`
struct KeyCommand: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "key", abstract: "Key rotation, export, import and status.",
        subcommands: [KeyRotateCommand.self, KeyExportCommand.self, KeyImportCommand.self, KeyStatusCommand.self])
}

struct KeyRotateCommand: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "rotate",
        abstract: "A new key epoch: re-wrap every file key (metadata only), or with --reencrypt rewrite all data.",
        discussion: "Needs every node. Safe to interrupt: run it again (or with --resume) to finish.")

    @OptionGroup var options: ClientOptions

    @Flag(help: "Also give every file a new data key and file id, rewriting every object.")
    var reencrypt = false

    @Flag(help: "Finish an interrupted rotation (running the command again does the same).")
    var resume = false

    func run() async throws {
        try await reportingFailures {
            let crashAfter = ProcessInfo.processInfo.environment["EDFS_TEST_CRASH_AFTER_FILES"].flatMap(Int.init)
            let counter = FileCounter()
            let quiet = options.quiet
            let report: RotationReport? = try await withSession(options) { session in
                if resume && !session.keyStatus.rotationUnfinished {
                    return nil  // --resume with nothing to resume does nothing
                }
                return try await KeyRotation(session).run(reencrypt: reencrypt) { name in
                    let done = counter.increment()
                    if !quiet { printUnbuffered("rotated \(name)") }  // each line out before anything else happens
                    // Test hook: die like kill -9 right after the N-th file, to prove a rotation resumes.
                    if let crashAfter, done >= crashAfter { kill(getpid(), SIGKILL) }
                }
            }
            guard let report else {
                print("no unfinished key rotation; nothing to do")
                return
            }
            var line = "key epoch \(report.epoch): \(report.rewrapped) re-wrapped, \(report.reencrypted) re-encrypted"
            if report.alreadyDone > 0 { line += ", \(report.alreadyDone) already done" }
            if report.resumed { line += " (resumed)" }
            print(line)
        }
    }
}

/// Counts files done; safe from any thread.
private final class FileCounter: Sendable {
    private let count = Atomic<Int>(0)
    func increment() -> Int { count.wrappingAdd(1, ordering: .relaxed).newValue }
}

struct KeyExportCommand: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "export", abstract: "Write the key bundle to a file under a separate passphrase (mode 0600).")

    @OptionGroup var options: ClientOptions

    @Option(help: "The file to write (must not exist).")
    var out: String

    @Option(help: "Read the export passphrase from this file (first line); default: $EDFS_EXPORT_PASSPHRASE, or ask.")
    var passphraseFile: String?

    func run() async throws {
        try await reportingFailures {
            let passphrase = try exportPassphrase(file: passphraseFile, confirm: true)
            let config = try options.loadConfig()
            let bytes = try await withSession(options) { session in
                try KeyExport(session).run(passphrase: passphrase, kdfIterations: try options.kdfIterations(config))
            }
            try writeNewPrivateFile(out, bytes)
            print("wrote the key bundle to \(out) (keep it and its passphrase apart)")
        }
    }
}

struct KeyImportCommand: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "import", abstract: "Put an exported key bundle back on every node as the user's keyslot.")

    @OptionGroup var options: ClientOptions

    @Option(help: "Read the export passphrase from this file (first line); default: $EDFS_EXPORT_PASSPHRASE, or ask.")
    var passphraseFile: String?

    @Argument(help: "The file written by edfs key export.")
    var file: String

    func run() async throws {
        try await reportingFailures {
            guard let data = FileManager.default.contents(atPath: file) else {
                throw ClientError.noSuchFile("\(file): cannot read it")
            }
            guard data.count <= 64 << 10 else { throw ClientError.usage("\(file) is not an edfs key file (too large)") }
            let passphrase = try exportPassphrase(file: passphraseFile, confirm: false)
            let config = try options.loadConfig()
            let user = try options.userName(config)
            let password = try options.passwordSource(prompt: "Password for \(user): ")
                .read(environment: ProcessInfo.processInfo.environment)
            let links = try await ClusterLinks.connect(
                config: config, user: user, connectors: [NodeConnection.connector(config: config, user: user, password: password)],
                notices: options.notices())
            defer { Task { await links.close() } }
            let status = try await KeyImport(links: links, user: user).run(exported: Array(data),
                                                             passphrase: passphrase, password: password,
                                                             kdfIterations: try options.kdfIterations(config))
            await links.close()
            print("imported key epoch \(status.epoch) for \(user) on \(config.servers.count) node(s)")
        }
    }
}

struct KeyStatusCommand: AsyncParsableCommand {
    static let configuration = CommandConfiguration(commandName: "status", abstract: "Key epoch, KDF and rotation state.")

    @OptionGroup var options: ClientOptions

    @Flag(help: "Print JSON.")
    var json = false

    func run() async throws {
        try await reportingFailures {
            let status = try await withSession(options) { $0.keyStatus }
            if json {
                let encoder = JSONEncoder()
                encoder.outputFormatting = [.sortedKeys]
                print(String(decoding: try encoder.encode(status), as: UTF8.self))
                return
            }
            print("key epoch:  \(status.epoch)")
            print("keyslot:    revision \(status.revision), \(status.kdf), \(status.iterations) iterations")
            if status.rotationUnfinished {
                print("rotation:   UNFINISHED from epoch \(status.epochs.last ?? 0) to \(status.epoch)"
                      + (status.reencrypting ? " with re-encryption" : "") + "; run edfs key rotate to finish it")
            } else {
                print("rotation:   none in progress")
            }
        }
    }
}

/// The export passphrase: a file, $EDFS_EXPORT_PASSPHRASE, or asked (twice when `confirm`).
private func exportPassphrase(file: String?, confirm: Bool) throws -> SecureBytes {
    let environment = ProcessInfo.processInfo.environment
    if let file { return try PasswordSource.file(file).read(environment: environment) }
    if environment["EDFS_EXPORT_PASSPHRASE"] != nil {
        return try PasswordSource.environment("EDFS_EXPORT_PASSPHRASE").read(environment: environment)
    }
    let first = try PasswordSource.prompt("Export passphrase: ").read(environment: environment)
    if confirm {
        let again = try PasswordSource.prompt("Export passphrase again: ").read(environment: environment)
        guard first.constantTimeEquals(again) else { throw PasswordError.mismatch }
    }
    return first
}

/// Creates `path` with mode 0600 (refusing an existing file) and writes `bytes` durably.
private func writeNewPrivateFile(_ path: String, _ bytes: [UInt8]) throws {
    let fd = open(path, O_WRONLY | O_CREAT | O_EXCL | O_CLOEXEC, 0o600)
    guard fd >= 0 else {
        let code = errno
        throw code == EEXIST ? ClientError.usage("\(path) exists; choose another file")
                             : ClientError.localIO("cannot create \(path): \(String(cString: strerror(code)))")
    }
    let written = bytes.withUnsafeBytes { write(fd, $0.baseAddress, $0.count) }
    let synced = fsync(fd)
    close(fd)
    guard written == bytes.count, synced == 0 else {
        unlink(path)
        throw ClientError.localIO("cannot write \(path)")
    }
}
