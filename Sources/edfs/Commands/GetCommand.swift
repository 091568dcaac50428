import ArgumentParser
import EDFSClient
import EDFSFormat
import Foundation

/// `edfs get NAME… [-r] [-o PATH]`
struct GetCommand: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "get",
        abstract: "Fetch, verify and decrypt stored files (folders with -r); each appears only when complete.",
        discussion: """
            With -r, a folder comes back as a tree with the stored modes and modification times: "get -r photos -o \
            DIR" writes DIR/photos/…, "get -r photos/ -o DIR" writes what photos holds into DIR (rsync's \
            trailing-slash rule, as in put). Every byte is verified before it is written; a get that fails writes no \
            partial file.

            Examples:
              edfs get report.pdf                    writes ./report.pdf
              edfs get report.pdf -o copy.pdf        writes copy.pdf (an existing file needs --force)
              edfs get report.pdf -o - | less        to standard output
              edfs get -r photos -o restored         writes restored/photos/…
            """)

    @OptionGroup var options: ClientOptions
    @OptionGroup var display: ProgressOptions

    @Flag(help: "Progress as JSON lines on stderr, a JSON line per written file on stdout (docs/CLI.md).")
    var json = false

    @Option(name: .shortAndLong, help: """
        Output path ("-" for standard output) for one file; the folder to write into for several names or -r \
        (default: the current folder).
        """)
    var output: String?

    @Flag(name: .shortAndLong, help: "Fetch folders with everything in them.")
    var recursive = false

    @Flag(help: "Flush the output to disk before returning (the nodes keep the durable copy either way).")
    var sync = false

    @Flag(help: "Replace existing files, or write through a symbolic link given as -o.")
    var force = false

    @Flag(help: """
        Write output files past the page cache (O_DIRECT) where the file system allows it: faster where fresh \
        page-cache pages are dear (docs/PERFORMANCE.md), slower than the cache on a slow disk.
        """)
    var direct = false

    @Flag(help: "Do not replace a corrupt or missing replica met on the way (heal on read).")
    var noHeal = false

    @Argument(help: "Stored names.")
    var names: [String]

    func validate() throws {
        guard !names.isEmpty else { throw ValidationError("name at least one stored file") }
        if output == "-", names.count > 1 || recursive { throw ValidationError("-o - takes one file, without -r") }
    }

    func run() async throws {
        try await reportingFailures {
            let single = names.count == 1 && !recursive
            // One file learns its size from its manifest; several have theirs from the listing (`totalsGiven`).
            let progress = CommandProgress(action: "get", options: display, json: json, totalsGiven: !single,
                                           terminalAllowed: !(output == "-" && isatty(1) == 1))
            exitOnInterrupt(progress: progress) {
                let s = progress.model.snapshot
                return (s.totalFiles > 1 ? "\(s.filesDone) of \(s.totalFiles) files written; " : "")
                    + "no partial output was left"
            }
            // A single file keeps every -o form (a path, a device, standard output), decided before the password.
            if single {
                try await getOne(names[0], progress: progress)
                return
            }
            let folder = output ?? "."
            let root = try await withSession(options) { session in
                let plan = try await RestorePlan.make(names, recursive: recursive, session: session)
                let tree = try LocalTree(root: folder, force: force)
                try plan.check(against: tree, force: force)
                progress.model.addTotal(files: plan.files.count, bytes: plan.files.reduce(0) { $0 + $1.size })
                progress.start()
                for folder in plan.folders { try tree.makeFolder(folder) }
                try await restore(plan.files, into: tree, session: session, progress: progress)
                if plan.unlisted > 0 {
                    // Fail safe: a restore that may be missing files is not a success.
                    throw ClientError.integrity("\(plan.unlisted) stored file(s) could not be restored or even named: no "
                                                + "copy of their manifest opens, so they may belong here; the others "
                                                + "were written: run edfs check")
                }
                return tree.root
            }
            progress.finish { "restored " + CommandProgress.counts($0) + " into \(root)" }
        }
    }

    /// Files restored at once, and the listed bytes of the files in flight (one larger file runs alone): a tree of
    /// small files is not one round trip after another, and the batch buffers stay bounded (they come from one pool).
    static let filesInFlight = 16
    static let bytesInFlight: UInt64 = 32 << 20
    /// Manifests read ahead of the files: one GET_MANIFESTS per node for up to this many files or bytes.
    static let lookAheadBytes: UInt64 = 256 << 20
    /// …and for at most about this many bytes of manifest copies, counting a file small enough to be inline (its
    /// bytes are in its manifest, fetched from every node) at its size on every node.
    static let lookAheadCopyBytes: UInt64 = 32 << 20

    /// The bytes of manifest copies a lookup of a file of `size` bytes fetches: its header and body (about 512 bytes)
    /// from every node, and the file's bytes too when it may be inline.
    static func manifestCopyBytes(size: UInt64, nodeCount: Int) -> UInt64 {
        (size <= UInt64(ManifestBody.maximumInlineBytes) ? size + 512 : 512) &* UInt64(nodeCount)
    }

    /// Restores `files` (from the plan) into `tree`, several at a time: their manifests read in bulk
    /// (`ManifestReader.lookUp(paths:)`: the same authentication and read quorum as one file's lookup), each file
    /// written and renamed into place as a single get does, the lines reported in the plan's order.
    private func restore(_ files: [(stored: String, local: [String], size: UInt64)], into tree: LocalTree,
                         session: ClusterSession, progress: CommandProgress) async throws {
        let operation = GetOperation(session, pool: BatchBufferPool(), direct: direct, replacing: force)
        let reader = ManifestReader(session)
        let model = progress.model, sync = sync, heal = !noHeal
        var start = 0
        while start < files.count {
            var end = start
            var bytes: UInt64 = 0
            var copyBytes: UInt64 = 0
            while end < files.count, end - start < WireProtocol.maxManifestBatch {
                let copies = Self.manifestCopyBytes(size: files[end].size, nodeCount: session.nodeCount)
                guard end == start || (bytes + files[end].size <= Self.lookAheadBytes
                                       && copyBytes + copies <= Self.lookAheadCopyBytes) else { break }
                bytes += files[end].size
                copyBytes += copies
                end += 1
            }
            let batch = Array(files[start..<end])
            let lookups = await reader.lookUp(paths: batch.map(\.stored))
            // Per file: nil while in flight; then what was written, or nil inside when it was skipped.
            var written = [(path: String, name: String, size: UInt64)??](repeating: nil, count: batch.count)
            var reported = 0
            func reportReady() {
                while reported < written.count, let done = written[reported] {
                    if let done { report(wrote: done.path, name: done.name, size: done.size) }
                    reported += 1
                }
            }
            try await withThrowingTaskGroup(of: (Int, UInt64).self) { group in
                var running = 0
                var runningBytes: UInt64 = 0
                func finished(_ index: Int, size: UInt64) {
                    running -= 1
                    runningBytes -= batch[index].size
                    let item = batch[index]
                    // The listing's size may be older than the version read: count what was read.
                    model.removeFromTotal(bytes: item.size)
                    model.addTotal(bytes: size)
                    written[index] = (tree.shown(item.local), item.stored, size)
                }
                func collect() async throws {
                    guard let (index, size) = try await group.next() else { return }
                    finished(index, size: size)
                    reportReady()
                }
                do {
                    for (index, item) in batch.enumerated() {
                        while running >= Self.filesInFlight
                                || (running > 0 && runningBytes + item.size > Self.bytesInFlight) { try await collect() }
                        guard let parent = try tree.folder(Array(item.local.dropLast()), creating: true),
                              let name = item.local.last else {
                            written[index] = .some(nil)
                            reportReady()
                            continue
                        }
                        let path = tree.shown(item.local)
                        let lookup = lookups[index]
                        running += 1
                        runningBytes += item.size
                        group.addTask {
                            defer { close(parent) }
                            let record = try reader.liveManifest(path: item.stored, from: lookup)
                            model.begin(item.stored)
                            try await operation.run(record, to: .fileIn(folder: parent, name: name, shown: path),
                                                    sync: sync, progress: model, heal: heal)
                            model.end(item.stored)
                            return (index, record.body.size)
                        }
                    }
                    while running > 0 { try await collect() }
                } catch {
                    // Every file renamed into place gets its line, also those after the one that failed.
                    group.cancelAll()
                    while let result = await group.nextResult() {
                        if case let .success((index, size)) = result { finished(index, size: size) }
                    }
                    for case let done?? in written[reported...] { report(wrote: done.path, name: done.name, size: done.size) }
                    throw error
                }
            }
            start = end
        }
    }

    private func report(wrote path: String, name: String, size: UInt64) {
        if json {
            printUnbuffered(CommandProgress.jsonLine(FileMessage(messageType: "written", name: name, path: path, size: size)))
        } else {
            printError("wrote \(path) (\(ByteCount.humanReadable(Int(clamping: size))))")
        }
    }

    private func getOne(_ name: String, progress: CommandProgress) async throws {
        let destination: GetDestination
        if let output {
            destination = try OutputTarget.resolve(output, name: name, force: force)
        } else {
            let last = try OutputTarget.localName(of: name)
            destination = try OutputTarget.resolve(last, name: name, force: force)
        }
        try await withSession(options) { session in
            progress.model.addTotal(files: 1)
            progress.start()
            progress.model.begin(name)
            let record = try await GetOperation(session, direct: direct, replacing: force).run(name: name, to: destination, sync: sync,
                                                              progress: progress.model, heal: !noHeal)
            progress.model.end(name)
            switch destination {
            case let .file(path), let .stream(path), let .fileIn(_, _, path):
                report(wrote: path, name: name, size: record.body.size)
            case .standardOutput:
                break
            }
        }
        progress.finish { "fetched " + CommandProgress.counts($0) }
    }
}

/// What a `get` of several names or folders writes: stored files with their local paths (components below the
/// output folder), and the folders to create (empty ones included). Made from one listing.
struct RestorePlan {
    var files: [(stored: String, local: [String], size: UInt64)] = []
    var folders: [[String]] = []
    /// Stored files the listing could not name (no copy of their manifest opens): any of them may belong here.
    var unlisted = 0

    static func make(_ names: [String], recursive: Bool, session: ClusterSession) async throws -> RestorePlan {
        let (files, unlisted) = try await ListOperation(session).runCountingUnlisted()
        let listing = Namespace(files)
        var plan = RestorePlan()
        plan.unlisted = unlisted
        for typed in names {
            let name = StoredPath.trimmed(typed)
            // rsync's rule: "photos/" (or the top) restores what the folder holds, "photos" the folder itself.
            let contentsOnly = typed.hasSuffix("/") || name.isEmpty
            switch listing.kind(of: name) {
            case nil:
                throw ClientError.noSuchFile("nothing named \"\(name)\" is stored (see edfs ls)")
            case let .file(entry)?:
                plan.files.append((name, [try OutputTarget.localName(of: name)], entry.size))
            case .folder?:
                guard recursive else { throw ClientError.conflict("\(name) is a folder: use edfs get -r") }
                let base = contentsOnly ? name : StoredPath.parent(of: name)
                func local(_ path: String) throws -> [String] {
                    try LocalTree.checkedRelative(base.isEmpty ? path : String(decoding: path.utf8.dropFirst(base.utf8.count + 1), as: UTF8.self))
                }
                if !contentsOnly { plan.folders.append(try local(name)) }
                for entry in listing.folderEntries(inside: name).reversed() { plan.folders.append(try local(entry.name)) }
                for file in listing.files(inside: name) { plan.files.append((file.name, try local(file.name), file.size)) }
            }
        }
        var seen = Set<[[UInt8]]>()  // bytes: a local file system tells NFC from NFD names apart, as edfs does
        for file in plan.files where !seen.insert(file.local.map { Array($0.utf8) }).inserted {
            throw ClientError.usage("two stored files would both be written to \(file.local.joined(separator: "/")); "
                                    + "get them separately")
        }
        return plan
    }

    /// Refuses, before anything is written, a file that exists without `force` or anything on the way that is not a
    /// folder.
    func check(against tree: LocalTree, force: Bool) throws {
        for file in files {
            let path = tree.shown(file.local)
            guard let info = try tree.status(file.local) else { continue }
            guard info.st_mode & S_IFMT == S_IFREG else {
                throw ClientError.conflict("\(path) exists and is not a regular file; nothing was written")
            }
            guard force else { throw ClientError.conflict("\(path) exists; pass --force to replace it; nothing was written") }
        }
    }
}
