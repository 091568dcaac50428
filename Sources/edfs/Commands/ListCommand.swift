import ArgumentParser
import EDFSClient
import EDFSFormat
import Foundation

/// `edfs ls [--json]`
struct ListCommand: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "ls", abstract: "List stored files with sizes, dates and replica health.")

    @OptionGroup var options: ClientOptions

    @Flag(help: "Print a JSON array.")
    var json = false

    func run() async throws {
        try await reportingFailures {
            let files = try await withSession(options) { try await ListOperation($0).run() }
            if json {
                let encoder = JSONEncoder()
                encoder.outputFormatting = [.sortedKeys, .prettyPrinted]
                print(String(decoding: try encoder.encode(files), as: UTF8.self))
                return
            }
            let formatter = ISO8601DateFormatter()
            for file in files {
                let date = formatter.string(from: Date(timeIntervalSince1970: TimeInterval(file.modified)))
                let size = ByteCount.humanReadable(Int(clamping: file.size))
                print("\(size.padding(toLength: 10, withPad: " ", startingAt: 0))  \(date)  \(file.health.padding(toLength: 30, withPad: " ", startingAt: 0))  \(displayed(file.name))")
            }
            let unhealthy = files.filter { $0.health != "healthy" }.count
            if unhealthy > 0 {
                printError("\(unhealthy) of \(files.count) file(s) not healthy: see edfs check, fix with edfs repair")
            }
        }
    }
}
