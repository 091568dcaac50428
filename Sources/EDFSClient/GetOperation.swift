import EDFSCrypto
import Foundation
import EDFSFormat
import NIOCore
import Synchronization
#if canImport(Glibc)
import Glibc
#endif

/// Where `get` writes the file.
public enum GetDestination: Sendable, Equatable {
    /// A path: written to a temporary file beside it and renamed into place only when complete and verified.
    case file(String)
    /// Standard output, in order (a failure part-way leaves what was written; the exit code says so).
    case standardOutput
}

extension ClusterSession {
    /// Seconds a replica may go without delivering a byte before the next replica is tried.
    static let replicaStallTimeout: Double = 30

    /// Fetches, verifies and decrypts `name`. Each stripe comes from any good replica; a failed, stalled or corrupt
    /// replica is abandoned for the next one at the first segment not yet verified, with a notice.
    @discardableResult
    /// With `sync`, the output is flushed to disk (fsync of file and folder) before `get` returns; without it the
    /// rename still makes the file appear only complete, and the nodes keep the durable copy.
    public func get(name: String, to destination: GetDestination, sync: Bool = false,
                    progress: TransferProgress? = nil) async throws
        -> ManifestRecord {
        let (record, _) = try await liveManifest(path: name)
        guard Int(record.body.nodeCount) <= nodeCount else {
            throw ClientError.usage("\(name) was stored on \(record.body.nodeCount) nodes; \(config.path) lists \(nodeCount)")
        }
        progress?.setTotal(record.body.size)
        // Each stripe's offset in the file comes from the lengths the manifest records.
        var offsets = [UInt64]()
        var running: UInt64 = 0
        for length in record.body.stripeLengths {
            offsets.append(running)
            running += length
        }
        switch destination {
        case .standardOutput:
            let sink = OutputSink(descriptor: 1, sequential: true)
            for stripe in 0..<Int(record.body.nodeCount) {
                try await fetchStripe(record, stripe: stripe, consume: { bytes, _ in try sink.write(bytes, at: 0) },
                                      afterBatch: { progress?.advance($0) })
            }
        case let .file(path):
            let output = try TemporaryOutput(target: path, size: record.body.size)
            do {
                let sink = OutputSink(descriptor: output.descriptor, sequential: false)
                try await withThrowingTaskGroup(of: Void.self) { group in
                    for stripe in 0..<Int(record.body.nodeCount) {
                        if stripe >= Self.concurrentStripes { try await group.next() }
                        let offset = offsets[stripe]
                        group.addTask {
                            try await self.fetchStripe(record, stripe: stripe,
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

    /// Streams one stripe from its replicas through the opener. `consume` gets each verified batch of plaintext
    /// with its offset in the stripe, exactly once and in order, inside a blocking job; `afterBatch` then runs on the
    /// task with the batch's size (its errors are not blamed on the replica).
    func fetchStripe(_ record: ManifestRecord, stripe: Int,
                     consume: @escaping @Sendable (UnsafeRawBufferPointer, UInt64) throws -> Void,
                     afterBatch: @escaping @Sendable (Int) async throws -> Void) async throws {
        let header = try record.stripeHeader(stripe)
        let work = try StripeOpenWork(header: header, dataKey: record.body.dataKey,
                                      batchSegments: Self.segmentsPerBatch(segmentSize: Int(header.segmentSize)))
        var failures = [(node: Int, reason: String, corrupt: Bool)]()
        let replicas = try record.nodes(ofStripe: stripe)
        for (attempt, node) in replicas.enumerated() {
            guard let link = links[node] else {
                failures.append((node, "unreachable", false))
                continue
            }
            do {
                try await fetch(work: work, from: link, consume: consume, afterBatch: afterBatch)
                if attempt > 0 || !failures.isEmpty {
                    notices.add("stripe \(stripe) of \(record.body.name) came from \(nodeName(node)) after: "
                                + failures.map { "\(nodeName($0.node)) \($0.reason)" }.joined(separator: "; "))
                }
                return
            } catch let error as ClientError {
                throw error  // local output failures are not the replica's fault
            } catch where error is CancellationError || Task.isCancelled {
                throw CancellationError()  // another stripe failed: stop, this replica did nothing wrong
            } catch {
                let corrupt = Self.isIntegrityFailure(error)
                failures.append((node, String(describing: error), corrupt))
                let next = replicas.dropFirst(attempt + 1).first.map { "; trying \(nodeName($0))" } ?? ""
                notices.add("stripe \(stripe) of \(record.body.name): replica on \(nodeName(node)) failed: \(error)\(next)")
            }
        }
        let summary = failures.map { "\(nodeName($0.node)): \($0.reason)" }.joined(separator: "; ")
        if failures.allSatisfy(\.corrupt) {
            throw ClientError.integrity("stripe \(stripe) of \(record.body.name): no replica verified (\(summary)); nothing was written")
        }
        throw ClientError.notEnoughNodes("stripe \(stripe) of \(record.body.name): no replica reachable (\(summary))")
    }

    /// Reads one replica from the first unverified byte to the end, opening whole batches as they fill.
    private func fetch(work: StripeOpenWork, from link: any NodeLink,
                       consume: @escaping @Sendable (UnsafeRawBufferPointer, UInt64) throws -> Void,
                       afterBatch: @escaping @Sendable (Int) async throws -> Void) async throws {
        let header = work.opener.header
        let start = work.headerVerified ? UInt64(StripeHeader.byteCount) + work.sealedDone : 0
        let download = try await withDeadline(Self.requestTimeout, link.nodeName) {
            try await link.get(object: header.objectName, offset: start, length: nil)
        }
        guard download.objectLength == header.objectLength else {
            await download.cancel()
            throw StripeError.truncated(expected: header.objectLength, received: download.objectLength)
        }
        work.discardPartialBatch()
        do {
            while let chunk = try await Self.next(of: download, timeout: Self.replicaStallTimeout) {
                var chunk = chunk
                while chunk.readableBytes > 0 {
                    try chunk.readWithUnsafeReadableBytes { bytes in try work.absorb(bytes) }
                    if work.batchIsFull {
                        let opened = try await runBlocking { try work.openBatch(consume) }
                        try await Self.notBlamingReplica { try await afterBatch(opened) }
                    }
                }
            }
            if work.hasPartialBatch {
                let opened = try await runBlocking { try work.openBatch(consume) }
                try await Self.notBlamingReplica { try await afterBatch(opened) }
            }
            try work.opener.finish()
        } catch {
            await download.cancel()
            throw error
        }
    }

    /// Runs work that is not the replica's business (writing output, uploading): its failures end the stripe.
    private static func notBlamingReplica(_ body: () async throws -> Void) async throws {
        do { try await body() } catch let error as ClientError { throw error } catch {
            throw ClientError.failed(String(describing: error))
        }
    }

    /// The next chunk, or a timeout error when the replica stalls.
    private static func next(of download: any ObjectDownload, timeout: Double) async throws -> ByteBuffer? {
        try await withThrowingTaskGroup(of: ByteBuffer?.self) { group in
            group.addTask { try await download.next() }
            group.addTask {
                try await Task.sleep(nanoseconds: UInt64(timeout * 1e9))
                throw NodeLinkError.unreachable("no data for \(Int(timeout)) s")
            }
            defer { group.cancelAll() }
            guard let first = try await group.next() else { return nil }
            return first
        }
    }

    static func isIntegrityFailure(_ error: any Error) -> Bool {
        switch error {
        case is StripeError, is FormatError: return true
        case NodeLinkError.checksumMismatch: return true
        default: return false
        }
    }
}

/// Where opened plaintext goes: positional writes into the output file, or in order to a stream.
/// `@unchecked Sendable` is sound: it only holds a descriptor; positional writes of different stripes touch
/// disjoint ranges, and the sequential (stdout) mode is used by one stripe at a time.
final class OutputSink: @unchecked Sendable {
    let descriptor: Int32
    let sequential: Bool

    init(descriptor: Int32, sequential: Bool) {
        self.descriptor = descriptor
        self.sequential = sequential
    }

    func write(_ bytes: UnsafeRawBufferPointer, at offset: UInt64) throws {
        var done = 0
        while done < bytes.count {
            let base = bytes.baseAddress?.advanced(by: done)
            let n = sequential ? Glibc.write(descriptor, base, bytes.count - done)
                               : pwrite(descriptor, base, bytes.count - done, off_t(offset) + off_t(done))
            if n < 0 && errno == EINTR { continue }
            guard n > 0 else { throw ClientError.localIO("cannot write the output: \(String(cString: strerror(errno)))") }
            done += n
        }
    }
}

/// One stripe's opener, its batch of sealed bytes and the plaintext buffer.
///
/// `@unchecked Sendable` is sound: one stripe's fetch owns it and uses it from one task at a time — `absorb` runs
/// between awaits of that task, and `openBatch` runs in a blocking job the task awaits before touching it again.
final class StripeOpenWork: @unchecked Sendable {
    let opener: StripeOpener
    private let sealedCapacity: Int
    private let sealed: UnsafeMutableRawBufferPointer
    private let plaintext: UnsafeMutableRawBufferPointer
    private var headerBytes: [UInt8] = []
    private var filled = 0
    private(set) var headerVerified = false
    /// Sealed bytes after the header that were opened and written.
    private(set) var sealedDone: UInt64 = 0
    /// Plaintext bytes of this stripe written so far.
    private(set) var plaintextDone: UInt64 = 0

    init(header: StripeHeader, dataKey: SymmetricKey, batchSegments: Int) throws {
        opener = try StripeOpener(expected: header, dataKey: dataKey)
        sealedCapacity = batchSegments * (Int(header.segmentSize) + AESGCM.tagByteCount)
        sealed = .allocate(byteCount: sealedCapacity, alignment: 64)
        plaintext = .allocate(byteCount: batchSegments * Int(header.segmentSize) + 1, alignment: 64)
    }

    deinit {
        plaintext.initializeMemory(as: UInt8.self, repeating: 0)
        sealed.deallocate()
        plaintext.deallocate()
    }

    /// Sealed bytes the current batch needs before it can be opened.
    private var batchTarget: Int { Int(min(UInt64(sealedCapacity), opener.sealedBytesRemaining)) }
    var batchIsFull: Bool { headerVerified && filled > 0 && filled == batchTarget }
    var hasPartialBatch: Bool { filled > 0 }

    /// Forgets bytes of a batch that was not opened (the replica failed mid-batch).
    func discardPartialBatch() {
        filled = 0
        if !headerVerified { headerBytes.removeAll() }
    }

    /// Takes bytes from `input` up to the end of the header or the current batch; returns how many it took.
    func absorb(_ input: UnsafeRawBufferPointer) throws -> Int {
        if !headerVerified {
            let take = min(StripeHeader.byteCount - headerBytes.count, input.count)
            headerBytes.append(contentsOf: input[0..<take])
            if headerBytes.count == StripeHeader.byteCount {
                try opener.verifyHeader(headerBytes)
                headerVerified = true
            }
            return take
        }
        let room = batchTarget - filled
        guard room > 0 else { throw StripeError.trailingBytes }
        let take = min(room, input.count)
        UnsafeMutableRawBufferPointer(rebasing: sealed[filled..<(filled + take)])
            .copyMemory(from: UnsafeRawBufferPointer(rebasing: input[0..<take]))
        filled += take
        return take
    }

    /// Opens the buffered batch (in parallel), hands its plaintext to `consume` and returns its size.
    func openBatch(_ consume: (UnsafeRawBufferPointer, UInt64) throws -> Void) throws -> Int {
        guard let count = opener.plaintextLength(ofSealedBatch: filled) else {
            throw StripeError.truncated(expected: opener.header.objectLength, received: UInt64(filled))
        }
        let out = UnsafeMutableRawBufferPointer(rebasing: plaintext[0..<count])
        defer { out.initializeMemory(as: UInt8.self, repeating: 0) }
        try opener.open(UnsafeRawBufferPointer(rebasing: sealed[0..<filled]), into: out)
        do { try consume(UnsafeRawBufferPointer(out), plaintextDone) } catch let error as ClientError { throw error } catch {
            throw ClientError.failed(String(describing: error))
        }
        sealedDone += UInt64(filled)
        plaintextDone += UInt64(count)
        filled = 0
        return count
    }
}

/// The output file of a get: a temporary file beside the target, renamed over it only when complete.
final class TemporaryOutput: Sendable {
    let descriptor: Int32
    let temporaryPath: String
    let target: String
    let directory: String
    /// The descriptor is closed exactly once, whichever of commit and discard gets there.
    private let open = Mutex(true)

    init(target: String, size: UInt64) throws {
        let directory = target.contains("/") ? String(target[..<(target.lastIndex(of: "/") ?? target.endIndex)]) : "."
        self.directory = directory.isEmpty ? "/" : directory
        let base = target.split(separator: "/").last.map(String.init) ?? target
        let suffix = Hex.encode(try SecureRandom.bytes(6))
        temporaryPath = self.directory + "/.\(base).edfs-\(suffix).part"
        self.target = target
        let fd = Glibc.open(temporaryPath, O_WRONLY | O_CREAT | O_EXCL | O_CLOEXEC, 0o600)
        guard fd >= 0 else {
            let code = errno
            throw ClientError.localIO("cannot create a file in \(directory): \(String(cString: strerror(code)))")
        }
        descriptor = fd
        PartialOutputs.shared.add(temporaryPath)
        guard ftruncate(fd, off_t(size)) == 0 else {
            let code = errno
            discard()
            throw ClientError.localIO("cannot size the output file: \(String(cString: strerror(code)))")
        }
    }

    private func closeOnce() {
        let wasOpen = open.withLock { state in
            defer { state = false }
            return state
        }
        if wasOpen { Glibc.close(descriptor) }
    }

    /// Sets the mode (per umask) and modification time, and renames the file into place (with `sync`, durably:
    /// fsync of the file before and of the folder after).
    /// On failure the caller discards the temporary file.
    func commit(modificationSeconds: Int64, nanoseconds: UInt32, sync: Bool) throws {
        _ = fchmod(descriptor, 0o666 & ~ProcessUmask.value)
        var times = [timespec(tv_sec: time(nil), tv_nsec: 0),
                     timespec(tv_sec: Int(modificationSeconds), tv_nsec: Int(nanoseconds))]
        _ = futimens(descriptor, &times)
        if sync {
            guard fsync(descriptor) == 0 else {
                let code = errno
                throw ClientError.localIO("cannot flush the output file: \(String(cString: strerror(code)))")
            }
        }
        closeOnce()
        defer { PartialOutputs.shared.remove(temporaryPath) }
        guard rename(temporaryPath, target) == 0 else {
            let code = errno
            throw ClientError.localIO("cannot move the output into place at \(target): \(String(cString: strerror(code)))")
        }
        let directoryFD = sync ? Glibc.open(directory, O_RDONLY | O_DIRECTORY | O_CLOEXEC) : -1
        if directoryFD >= 0 {
            _ = fsync(directoryFD)
            Glibc.close(directoryFD)
        }
    }

    /// Removes the temporary file (nothing partial is left behind).
    func discard() {
        closeOnce()
        unlink(temporaryPath)
        PartialOutputs.shared.remove(temporaryPath)
    }
}

/// Temporary output files being written, so an interrupted command (Ctrl-C, SIGTERM) can remove them before it
/// exits: a get never leaves partial plaintext behind.
public final class PartialOutputs: Sendable {
    public static let shared = PartialOutputs()
    private let paths = Mutex<Set<String>>([])

    func add(_ path: String) { _ = paths.withLock { $0.insert(path) } }
    func remove(_ path: String) { _ = paths.withLock { $0.remove(path) } }

    /// Unlinks every registered file (from a signal handler's queue, just before exiting).
    public func removeAll() {
        for path in paths.withLock({ $0 }) { unlink(path) }
    }
}

/// The process umask, from /proc/self/status (reading it with umask(2) means setting it, which races with
/// other threads creating files); 022 when the kernel does not say.
enum ProcessUmask {
    static let value: mode_t = {
        guard let file = fopen("/proc/self/status", "r") else { return 0o022 }
        defer { fclose(file) }
        var line = [CChar](repeating: 0, count: 256)
        while fgets(&line, Int32(line.count), file) != nil {
            let text = String(decoding: line.prefix { $0 != 0 }.map { UInt8(bitPattern: $0) }, as: UTF8.self)
            if text.hasPrefix("Umask:"), let mask = mode_t(text.dropFirst(6).trimmingCharacters(in: .whitespacesAndNewlines), radix: 8) {
                return mask
            }
        }
        return 0o022
    }()
}
