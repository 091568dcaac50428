import ArgumentParser
import EDFSClient
import EDFSCrypto
import EDFSFormat
import Foundation
import Synchronization
#if canImport(Glibc)
import Glibc
#endif

/// The export passphrase: a file, $EDFS_EXPORT_PASSPHRASE, or asked (twice when `confirm`).
func exportPassphrase(file: String?, confirm: Bool) throws -> SecureBytes {
    let environment = ProcessInfo.processInfo.environment
    if let file { return try PasswordSource.file(file).read(environment: environment) }
    if environment["EDFS_EXPORT_PASSPHRASE"] != nil {
        return try PasswordSource.environment("EDFS_EXPORT_PASSPHRASE").read(environment: environment)
    }
    let first: SecureBytes
    do {
        first = try PasswordSource.prompt("Export passphrase: ").read(environment: environment)
    } catch PasswordError.noTerminal {
        throw ClientError.usage("no terminal to ask for the export passphrase: set EDFS_EXPORT_PASSPHRASE, or use "
                                + "--passphrase-file")
    }
    if confirm {
        let again = try PasswordSource.prompt("Export passphrase again: ").read(environment: environment)
        guard first.constantTimeEquals(again) else { throw PasswordError.mismatch }
    }
    return first
}

/// Creates `path` with mode 0600 (refusing an existing file) and writes `bytes` durably.
func writeNewPrivateFile(_ path: String, _ bytes: [UInt8]) throws {
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
