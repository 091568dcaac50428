import ArgumentParser
import EDFSClient
import EDFSFormat
import Foundation

/// `edfs put FILE… [--as NAME] [--to FOLDER]`
struct PutCommand: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "put", abstract: "Encrypt files (directories recursively) and store them on the nodes.",
        discussion: """
            Naming follows rsync's trailing-slash rule: a file is stored under its last component ("put ./a/b.txt" \
            stores "b.txt"); a folder "photos" as "photos/…"; "photos/" stores what it holds. --to puts everything \
            inside a stored folder. Empty folders stay as empty stored folders. A put that fails leaves the previous \
            version of the name as it was.

            Examples:
              edfs put report.pdf                    stores "report.pdf"
              edfs put report.pdf --as 2026/q4.pdf   stores it as "2026/q4.pdf"
              edfs put photos                        stores "photos/…", the whole tree
              edfs put photos/ --to albums/2026      stores what photos holds inside "albums/2026"
            """)

    @OptionGroup var options: ClientOptions
    @OptionGroup var display: ProgressOptions

    @Flag(help: "Progress as JSON lines on stderr, a JSON line per stored file on stdout (docs/CLI.md).")
    var json = false

    @Option(name: .customLong("as"), help: "Store the one FILE under this name.")
    var name: String?

    @Option(name: .customLong("to"), help: "The stored folder to put everything into (default: the top).")
    var folder: String?

    @Argument(help: "Files or directories to store.")
    var files: [String]

    func validate() throws {
        guard !files.isEmpty else { throw ValidationError("name at least one file") }
        if name != nil && files.count != 1 { throw ValidationError("--as takes exactly one file") }
    }

    func run() async throws {
        try await reportingFailures {
            let (items, folders) = try LocalFiles.expand(files, as: name, into: StoredPath.trimmed(folder ?? ""))
            let progress = CommandProgress(action: "put", options: display, json: json, totalFiles: items.count,
                                           totalBytes: items.reduce(0) { $0 + $1.size }, totalsGiven: true)
            let commit = LockedValue(PutCommit())
            let degraded = LockedValue(0)
            exitOnInterrupt(progress: progress) { PutCommit.interrupted(commit) { progress.model.snapshot } }
            try await withSession(options) { session in
                progress.start()
                for folder in folders { try await FolderOperation(session).make(folder.name, mode: folder.mode) }
                let json = json
                // The files' commits, gathered: one re-read and one manifest write per node for the files that reach
                // their commit together.
                let batch = CommitBatch(session)
                // The names' first lookups in bulk, a window at a time: one GET_MANIFESTS per node per window instead
                // of a request per node and file (each put still looks its name up again right before its commit).
                var start = items.startIndex
                while start < items.endIndex {
                    let window = Array(items[start..<min(start + PutQueue.lookupWindow, items.endIndex)])
                    start += window.count
                    let lookups = await ManifestReader(session).lookUp(paths: window.map(\.name))
                    let lookedUp = Dictionary(zip(window.map(\.name), lookups)) { first, _ in first }
                    try await PutQueue.run(window) { item in
                        progress.model.begin(item.name)
                        defer { commit.update { $0.committing.removeAll { $0 == item.name } } }
                        let result = try await PutOperation(session).run(
                            file: item.path, as: item.name, progress: progress.model, lookedUp: lookedUp[item.name], batch: batch,
                            committing: { PutCommit.starting(commit, item.name) })
                        // The line first, then the count: an interrupt's "N files stored" never exceeds the lines
                        // shown, and the file stays "being committed" until both are done.
                        Self.report(result, json: json)
                        if !result.missingReplicas.isEmpty { degraded.update { $0 += 1 } }
                        progress.model.end(item.name)
                    }
                }
            }
            let degradedFiles = degraded.value
            progress.finish {
                "stored " + CommandProgress.counts($0) + (degradedFiles == 0 ? "" : "; \(degradedFiles) of them degraded "
                    + "(a replica missing): run edfs repair once every node is up")
            }
        }
    }

    /// The line (or JSON line) of one stored file.
    private static func report(_ result: PutResult, json: Bool) {
        if json {
            printUnbuffered(CommandProgress.jsonLine(FileMessage(
                messageType: "stored", name: result.name, size: result.size, version: result.version,
                missingReplicas: result.missingReplicas.count)))
        } else {
            var line = "stored \(displayed(result.name)) (\(ByteCount.humanReadable(Int(clamping: result.size))), version \(result.version))"
            if !result.missingReplicas.isEmpty {
                line += "; degraded: \(result.missingReplicas.count) replica(s) missing, "
                    + "stripes \(Set(result.missingReplicas.map(\.stripe)).sorted().map(String.init).joined(separator: ","))"
            }
            printUnbuffered(line)
        }
    }
}

/// Several files of one put in flight at once, bounded by count and by bytes: small files overlap their round trips
/// and fsyncs; a large file (a weight of `byteBudget`) runs alone, with its own per-stripe concurrency and memory
/// bound, as it did before. Files start in the order given; results are reported as they complete.
enum PutQueue {
    /// Files in flight at most.
    static let maximumFiles = 64
    /// Files whose first lookups are made together (one GET_MANIFESTS per node), then put.
    static let lookupWindow = 256
    /// Plaintext bytes of the files in flight at most (a file counts its size, at most this): with batch buffers of
    /// at most twice a stripe (plaintext and sealed) this bounds the puts' buffers to about 2 × 16 MiB, and a file of
    /// 16 MiB or more is alone in flight.
    static let byteBudget: UInt64 = 16 << 20

    /// One file's put, done: the item's index and its error, if it failed.
    private struct Finished: Sendable {
        let index: Int
        let error: (any Error)?
    }

    /// Runs `put` for every item, several at a time (each reports its own file). On a failure no new file starts, the
    /// files in flight finish (a commit is never cut half-way), and the first failure is thrown once they have.
    static func run(_ items: [LocalFiles.Item], put: @escaping @Sendable (LocalFiles.Item) async throws -> Void) async throws {
        func weight(_ item: LocalFiles.Item) -> UInt64 { min(item.size, byteBudget) }
        try await withThrowingTaskGroup(of: Finished.self) { group in
            var inFlight = 0
            var inFlightBytes: UInt64 = 0
            var failure: (any Error)?
            var next = items.startIndex
            while true {
                // Start files while the bounds allow (one always may start when none is in flight).
                while failure == nil, next < items.endIndex {
                    let index = next
                    let item = items[index]
                    guard inFlight < maximumFiles, inFlight == 0 || inFlightBytes + weight(item) <= byteBudget else { break }
                    inFlight += 1
                    inFlightBytes += weight(item)
                    next += 1
                    group.addTask {
                        do {
                            try await put(item)
                            return Finished(index: index, error: nil)
                        } catch {
                            return Finished(index: index, error: error)
                        }
                    }
                }
                guard let finished = try await group.next() else { break }
                inFlight -= 1
                inFlightBytes -= weight(items[finished.index])
                if let error = finished.error, failure == nil { failure = error }
            }
            if let failure { throw failure }
        }
    }
}

/// Which files' manifest commits are under way, so an interrupt can say what it left: before its commit a file's
/// previous version is untouched; once an interrupt is under way no commit starts.
struct PutCommit: Sendable {
    var committing: [String] = []
    var interrupted = false

    /// Called right before the commit of `name` starts: parks the put for good when an interrupt is under way (the
    /// process is exiting, and its message said the file was not stored).
    static func starting(_ state: LockedValue<PutCommit>, _ name: String) {
        var park = false
        state.update { s in
            if s.interrupted { park = true } else { s.committing.append(name) }
        }
        while park { pause() }
    }

    /// The interrupt's line: what was stored, and the state of each file under way. The progress is read only once no
    /// new commit can start: a file that finished between an earlier reading and that moment (a gathered commit ends
    /// dozens at once) would otherwise be "under way" yet no longer committing, and be called not stored.
    static func interrupted(_ state: LockedValue<PutCommit>, _ snapshot: () -> TransferProgress.Snapshot) -> String {
        var committing = [String]()
        state.update { c in
            c.interrupted = true
            committing = c.committing
        }
        let s = snapshot()
        var text = "\(s.filesDone) of \(s.totalFiles) file\(s.totalFiles == 1 ? "" : "s") stored"
        let notStored = s.current.filter { !committing.contains($0) }
        let beingCommitted = s.current.filter { committing.contains($0) }
        if !notStored.isEmpty {
            text += notStored.count == 1
                ? "; \(displayed(notStored[0])) was not stored, its previous version (if any) is intact"
                : "; \(notStored.map(displayed).joined(separator: ", ")) were not stored, their previous versions (if any) are intact"
        }
        if !beingCommitted.isEmpty {
            text += beingCommitted.count == 1
                ? "; \(displayed(beingCommitted[0])) was being committed: a get returns its new or its previous version "
                    + "(run edfs repair to settle it)"
                : "; \(beingCommitted.map(displayed).joined(separator: ", ")) were being committed: a get of each returns "
                    + "its new or its previous version (run edfs repair to settle them)"
        }
        return text + "; run the put again for the rest"
    }
}
