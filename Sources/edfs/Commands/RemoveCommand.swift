import ArgumentParser
import EDFSClient
import EDFSFormat
import Foundation

/// `edfs rm NAME`
struct RemoveCommand: AsyncParsableCommand {
    static let configuration = CommandConfiguration(commandName: "rm", abstract: "Remove a stored file everywhere.")

    @OptionGroup var options: ClientOptions

    @Argument(help: "The stored name.")
    var name: String

    func run() async throws {
        try await reportingFailures {
            try await withSession(options) { try await RemoveOperation($0).run(name: name) }
            print("removed \(displayed(name))")
        }
    }
}
