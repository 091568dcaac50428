import ArgumentParser
import EDFSClient
import EDFSFormat
import Foundation

/// `edfs rm NAME… [-r]`
struct RemoveCommand: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "rm", abstract: "Remove stored files everywhere (folders with everything in them with -r).",
        discussion: """
            Needs a majority of the nodes (N - R + 1); nodes that were down learn of the removal from edfs repair. \
            With several names, each is tried and each failure is reported.

            Examples:
              edfs rm report.pdf
              edfs rm a.txt b.txt
              edfs rm -r albums/2025
            """)

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
            exitOnInterrupt { "the names reported removed are removed; run edfs rm again for the rest" }
            try await withSession(options) { session in
                // A listing only where a folder may be named: removing plain files costs no listing.
                let listing = recursive ? Namespace(try await ListOperation(session).run()) : nil
                // Every name is tried; each failure is its own line; the exit code is the first failure's.
                var firstFailure: (any Error)?
                for typed in names {
                    do {
                        try await remove(StoredPath.trimmed(typed), listing: listing, session: session)
                    } catch {
                        if firstFailure != nil || names.count > 1 { printError(String(describing: error)) }
                        firstFailure = firstFailure ?? error
                    }
                }
                if let firstFailure {
                    if names.count > 1 { throw ExitCode(ExitStatus.code(for: firstFailure)) }
                    throw firstFailure
                }
            }
        }
    }

    private func remove(_ name: String, listing: Namespace?, session: ClusterSession) async throws {
        if recursive, name.isEmpty {
            throw ClientError.usage("refusing to remove every stored file: name the folders to remove")
        }
        guard let listing, case .folder? = listing.kind(of: name) else {
            do {
                try await RemoveOperation(session).run(name: name)
            } catch ClientError.conflict {
                guard recursive else {
                    throw ClientError.conflict("\(name) is a folder: use edfs rm -r (or edfs rmdir when empty)")
                }
                // A folder another client made after this command's listing (attack finding): list again.
                let fresh = Namespace(try await ListOperation(session).run())
                guard case .folder? = fresh.kind(of: name) else {
                    throw ClientError.failed("\(name) was changed by another client during the removal; run edfs rm -r again")
                }
                try await removeTree(name, namespace: fresh, session: session)
                return
            }
            print("removed \(displayed(name))")
            return
        }
        try await removeTree(name, namespace: listing, session: session)
    }

    private func removeTree(_ name: String, namespace: Namespace, session: ClusterSession) async throws {
        let count = try await FolderOperation(session).removeTree(name, namespace: namespace) {
            print("removed \(displayed($0))")
        }
        print("removed the folder \(displayed(name)) (\(count) file(s))")
    }
}
