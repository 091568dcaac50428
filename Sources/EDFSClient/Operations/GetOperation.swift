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
}

/// `edfs get`: fetches, verifies and decrypts one file. Each stripe comes from any good replica; a failed, stalled
/// or corrupt replica is abandoned for the next one at the first segment not yet verified, with a notice.
public struct GetOperation: Sendable {
    public let session: ClusterSession

    public init(_ session: ClusterSession) { self.session = session }

    /// Fetches `name` to `destination`. With `sync`, the output is flushed to disk (fsync of file and folder) before
    /// returning; without it the rename still makes the file appear only complete, and the nodes keep the durable copy.
    @discardableResult
    public func run(name: String, to destination: GetDestination, sync: Bool = false,
                    progress: TransferProgress? = nil) async throws -> ManifestRecord {
        let (record, _) = try await ManifestReader(session).liveManifest(path: name)
        guard Int(record.body.nodeCount) <= session.nodeCount else {
            throw ClientError.usage("\(name) was stored on \(record.body.nodeCount) nodes; \(session.config.path) lists "
                                    + "\(session.nodeCount)")
        }
        progress?.setTotal(record.body.size)
        let stripes = StripeDownload(session: session)
        switch destination {
        case .standardOutput:
            try await fetchInOrder(record, into: OutputSink(descriptor: 1, sequential: true), progress: progress)
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
            try await fetchInOrder(record, into: OutputSink(descriptor: descriptor, sequential: true), progress: progress)
        case let .file(path):
            // Each stripe's offset in the file comes from the lengths the manifest records.
            var offsets = [UInt64]()
            var running: UInt64 = 0
            for length in record.body.stripeLengths {
                offsets.append(running)
                running += length
            }
            let output = try TemporaryOutput(target: path, size: record.body.size)
            do {
                let sink = OutputSink(descriptor: output.descriptor, sequential: false)
                try await withThrowingTaskGroup(of: Void.self) { group in
                    for stripe in 0..<Int(record.body.nodeCount) {
                        if stripe >= TransferTuning.concurrentStripes { try await group.next() }
                        let offset = offsets[stripe]
                        group.addTask {
                            try await stripes.fetch(record, stripe: stripe,
                                                    consume: { bytes, at in try sink.write(bytes, at: offset + at) },
                                                    afterBatch: { progress?.advance($0) })
                        }
                    }
                    try await group.waitForAll()
                }
                try output.commit(modificationSeconds: record.body.modificationSeconds,
                                  nanoseconds: record.body.modificationNanoseconds, sync: sync)
            } catch {
                output.discard()
                throw error
            }
        }
        return record
    }

    /// Every stripe in order into a sequential sink (standard output, a device, a FIFO).
    private func fetchInOrder(_ record: ManifestRecord, into sink: OutputSink, progress: TransferProgress?) async throws {
        let stripes = StripeDownload(session: session)
        for stripe in 0..<Int(record.body.nodeCount) {
            try await stripes.fetch(record, stripe: stripe, consume: { bytes, _ in try sink.write(bytes, at: 0) },
                                    afterBatch: { progress?.advance($0) })
        }
    }
}
