import EDFSFormat
import Glibc

/// Where `get` writes the file.
public enum GetDestination: Sendable, Equatable {
    /// A path: written to a temporary file beside it and renamed into place only when complete and verified.
    case file(String)
    /// Standard output, in order (a failure part-way leaves what was written; the exit code says so).
    case standardOutput
    /// An existing device or FIFO, opened for writing (never created or replaced) and written in order, like
    /// standard output.
    case stream(String)
    /// The file `name` in the folder open as `folder` (the caller's descriptor, e.g. from `LocalTree`); `shown` is
    /// its path for messages. Written like `.file`, through the descriptor only.
    case fileIn(folder: Int32, name: String, shown: String)
}

/// `edfs get`: fetches, verifies and decrypts one file. Each stripe comes from any good replica; a failed, stalled
/// or corrupt replica is abandoned for the next one at the first segment not yet verified, with a notice.
public struct GetOperation: Sendable {
    public let session: ClusterSession
    /// Where every stripe's batch buffers come from: a command reading several files passes one pool to all.
    public let pool: BatchBufferPool
    /// Whether a file's output is written past the page cache (O_DIRECT) where the file system allows it
    /// (docs/PERFORMANCE.md, "Writing the output past the page cache").
    public let direct: Bool

    /// Whether a file that appears at the target while the get runs may be replaced (`--force`). Without it the final
    /// rename refuses to replace anything (the command checked before it began that nothing was there).
    public let replacing: Bool

    /// Called once a file's bytes are all written, right before it gets its final name (a test seam, as
    /// `PutOperation`'s `committing`).
    let beforeRename: (@Sendable () -> Void)?

    public init(_ session: ClusterSession, pool: BatchBufferPool = BatchBufferPool(), direct: Bool = false,
                replacing: Bool = true, beforeRename: (@Sendable () -> Void)? = nil) {
        self.session = session
        self.pool = pool
        self.direct = direct
        self.replacing = replacing
        self.beforeRename = beforeRename
    }

    /// Fetches `name` to `destination`. With `sync`, the output is flushed to disk (fsync of file and folder) before
    /// returning; without it the rename still makes the file appear only complete, and the nodes keep the durable copy.
    /// With `heal`, a replica found corrupt or missing is replaced afterwards by a copy of one that verified.
    @discardableResult
    public func run(name: String, to destination: GetDestination, sync: Bool = false,
                    progress: TransferProgress? = nil, heal: Bool = true) async throws -> ManifestRecord {
        let (record, _) = try await ManifestReader(session).liveManifest(path: name)
        return try await run(record, to: destination, sync: sync, progress: progress, heal: heal)
    }

    /// Fetches the version `record` (the live manifest of its name, authenticated by `ManifestReader`, e.g. from
    /// `lookUp(paths:)` and `liveManifest(path:from:)`) to `destination`, as `run(name:…)` does.
    @discardableResult
    public func run(_ record: ManifestRecord, to destination: GetDestination, sync: Bool = false,
                    progress: TransferProgress? = nil, heal: Bool = true) async throws -> ManifestRecord {
        let damage = ReadDamage()
        try await fetch(record, to: destination, sync: sync, progress: progress, damage: damage)
        if heal { await self.heal(record, damage.all) }
        return record
    }

    /// Heal on read: copies the verified replica of each damaged stripe over the bad ones (bounded: only the stripes
    /// this read had to fail over, one after another). Failures are notices; the read itself succeeded.
    private func heal(_ record: ManifestRecord, _ entries: [ReadDamage.Entry]) async {
        for entry in entries {
            let targets = entry.bad.filter { session.links[$0] != nil }
            guard !targets.isEmpty else { continue }
            do {
                let stored = try await StripeCopy(session: session).copy(record, stripe: entry.stripe, from: entry.good,
                                                                         to: targets)
                session.notices.add("stripe \(entry.stripe) of \(record.body.name): replaced the bad replica on "
                                    + stored.map(session.nodeName).joined(separator: ","))
            } catch {
                session.notices.add("stripe \(entry.stripe) of \(record.body.name): could not replace the bad replica: "
                                    + "\(error); run edfs repair")
            }
        }
    }

    private func fetch(_ record: ManifestRecord, to destination: GetDestination, sync: Bool,
                       progress: TransferProgress?, damage: ReadDamage) async throws {
        let name = record.body.name
        guard !record.body.isFolder else { throw ClientError.conflict("\(name) is a folder: use edfs get -r") }
        guard Int(record.body.nodeCount) <= session.nodeCount else {
            throw ClientError.usage("\(name) was stored on \(record.body.nodeCount) nodes; \(session.config.path) lists "
                                    + "\(session.nodeCount)")
        }
        progress?.learnedSize(record.body.size)
        let stripes = StripeDownload(session: session, pool: pool)
        switch destination {
        case .standardOutput:
            try await fetchInOrder(record, into: OutputSink(descriptor: 1, sequential: true), progress: progress,
                                   damage: damage)
        case let .stream(path):
            let descriptor = open(path, O_WRONLY | O_NOCTTY | O_CLOEXEC | O_NOFOLLOW)
            guard descriptor >= 0 else {
                let code = errno
                throw ClientError.localIO("cannot open \(path) for writing: \(String(cString: strerror(code)))")
            }
            defer { close(descriptor) }
            var info = stat()
            guard fstat(descriptor, &info) == 0,
                  [S_IFCHR, S_IFBLK, S_IFIFO].contains(info.st_mode & S_IFMT) else {
                throw ClientError.usage("\(path) is no longer a device or FIFO; nothing was written")
            }
            try await fetchInOrder(record, into: OutputSink(descriptor: descriptor, sequential: true), progress: progress,
                                   damage: damage)
        case .file, .fileIn:
            // Each stripe's offset in the file comes from the lengths the manifest records.
            var offsets = [UInt64]()
            var running: UInt64 = 0
            for length in record.body.stripeLengths {
                offsets.append(running)
                running += length
            }
            let output: TemporaryOutput
            if case let .fileIn(folder, name, shown) = destination {
                output = try TemporaryOutput(target: shown, name: name, size: record.body.size, folder: folder)
            } else if case let .file(path) = destination {
                output = try TemporaryOutput(target: path, size: record.body.size)
            } else {
                return
            }
            do {
                let sink = OutputSink(descriptor: output.descriptor, sequential: false, direct: direct)
                try await withThrowingTaskGroup(of: Void.self) { group in
                    for stripe in 0..<record.body.stripeLengths.count {
                        if stripe >= TransferTuning.concurrentStripes { try await group.next() }
                        let offset = offsets[stripe]
                        group.addTask {
                            try await stripes.fetch(record, stripe: stripe,
                                                    consume: { bytes, at in try sink.write(bytes, at: offset + at) },
                                                    afterBatch: { progress?.advance($0) }, damage: damage)
                        }
                    }
                    try await group.waitForAll()
                }
                beforeRename?()
                try output.commit(modificationSeconds: record.body.modificationSeconds,
                                  nanoseconds: record.body.modificationNanoseconds, mode: record.body.mode, sync: sync,
                                  replacing: replacing)
            } catch {
                output.discard()
                throw error
            }
        }
    }

    /// Every stripe in order into a sequential sink (standard output, a device, a FIFO).
    private func fetchInOrder(_ record: ManifestRecord, into sink: OutputSink, progress: TransferProgress?,
                              damage: ReadDamage) async throws {
        let stripes = StripeDownload(session: session, pool: pool)
        for stripe in 0..<record.body.stripeLengths.count {
            try await stripes.fetch(record, stripe: stripe, consume: { bytes, _ in try sink.write(bytes, at: 0) },
                                    afterBatch: { progress?.advance($0) }, damage: damage)
        }
    }
}
