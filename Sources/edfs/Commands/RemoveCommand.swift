import ArgumentParser
import EDFSClient
import EDFSFormat
import Foundation

/// `edfs rm NAME… [-r]`
struct RemoveCommand: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "rm", abstract: "Remove stored files everywhere (folders with everything in them with -r).")

    @OptionGroup var options: ClientOptions

    @Flag(name: .shortAndLong, help: "Remove folders with everything in them.")
    var recursive = false

    @Argument(help: "Stored names.")
    var names: [String]

    func validate() throws {
        guard !names.isEmpty else { throw ValidationError("name at least one stored file") }
    }

    func run() async throws {
        try await reportingFailures {
            try await withSession(options) { session in
                // A listing only where a folder may be named: removing plain files costs no listing.
                let listing = recursive ? Namespace(try await ListOperation(session).run()) : nil
                for typed in names {
                    let name = StoredPath.trimmed(typed)
                    guard let listing, case .folder? = listing.kind(of: name) else {
                        do {
                            try await RemoveOperation(session).run(name: name)
                        } catch ClientError.conflict {
                            throw ClientError.conflict("\(name) is a folder: use edfs rm -r (or edfs rmdir when empty)")
                        }
                        print("removed \(displayed(name))")
                        continue
                    }
                    let count = try await FolderOperation(session).removeTree(name, namespace: listing) {
                        print("removed \(displayed($0))")
                    }
                    print("removed the folder \(displayed(name)) (\(count) file(s))")
                }
            }
        }
    }
}
