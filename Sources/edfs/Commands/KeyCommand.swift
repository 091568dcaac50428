import ArgumentParser
import EDFSClient
import EDFSCrypto
import EDFSFormat
import Foundation
import Synchronization
#if canImport(Glibc)
import Glibc
#endif

/// `edfs key …`
struct KeyCommand: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "key", abstract: "Key rotation, export, import, restore and status.",
        subcommands: [KeyRotateCommand.self, KeyExportCommand.self, KeyImportCommand.self, KeyRestoreCommand.self,
                      KeyStatusCommand.self])
}
