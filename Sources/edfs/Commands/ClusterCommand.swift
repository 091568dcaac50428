import ArgumentParser
import Dispatch
import EDFSClient
import EDFSCrypto
import EDFSDevTools
import Foundation
import Synchronization

/// `edfs cluster up`
struct ClusterCommand: AsyncParsableCommand {
    static let configuration = CommandConfiguration(commandName: "cluster", abstract: "Run a local cluster.",
                                                    subcommands: [ClusterUpCommand.self])
}
