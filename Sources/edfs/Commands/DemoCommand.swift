import ArgumentParser
import Dispatch
import EDFSClient
import EDFSCrypto
import EDFSDevTools
import Foundation
import Synchronization

/// `edfs demo`
struct DemoCommand: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "demo",
        abstract: "A temporary 4-node cluster: put, ls, a byte-exact get, a node stopped, the get again.",
        discussion: """
            Everything it makes lives in a temporary folder that is removed at the end.

            Examples:
              edfs demo
            """)

    func run() async throws {
        try await reportingFailures {
            print("edfs demo: an encrypted, replicated store on this machine, start to finish")
            try await Demo.run(executable: currentExecutable()) { print($0) }
            print("edfs demo: done")
        }
    }
}
