import EDFSCrypto
import EDFSFormat
import NIOCore
#if canImport(Glibc)
import Glibc
#endif

/// What a put stored.
public struct PutResult: Sendable {
    public var name: String
    public var size: UInt64
    public var version: UInt64
    /// Replicas that could not be written (the put still met the write quorum).
    public var missingReplicas: [MissingReplica]
    /// Nodes that hold the new manifest.
    public var manifestNodes: [Int]
}

extension ClusterSession {
    /// Plaintext bytes sealed and sent per batch (whole segments, at least one).
    static let batchBytes = 4 << 20

    /// Segments per batch for `segmentSize`.
    static func segmentsPerBatch(segmentSize: Int) -> Int { max(1, batchBytes / max(1, segmentSize)) }

    /// Stripes transferred at once: enough to keep every core and node busy, few enough to bound memory.
    static var concurrentStripes: Int { max(4, ProcessInfoCores.active) }

    /// Encrypts the local file at `path` and stores it as `name`: a new version, committed by its manifest.
    /// Fails (`ClientError.notEnoughNodes`) without touching the previous version when a stripe cannot reach
    /// the write quorum. Memory is bounded by one batch per stripe, whatever the file size.
    public func put(file path: String, as name: String, progress: TransferProgress? = nil) async throws -> PutResult {
        guard !name.isEmpty, name.utf8.count <= ManifestBody.maximumNameBytes else {
            throw ClientError.usage("file name must be 1…\(ManifestBody.maximumNameBytes) bytes")
        }
        let source = try LocalSource(path: path)
        defer { source.close() }
        let placement = config.placement
        guard placement.nodeCount == nodeCount else { throw ClientError.usage("placement does not match the server list") }
        let quorum = config.writeQuorum
        guard (1...placement.replicas).contains(quorum) else {
            throw ClientError.usage("\(config.path): WriteQuorum must be 1…\(placement.replicas)")
        }
        guard let segmentSize = UInt32(exactly: config.segmentSize),
              (1...SegmentScheme.maximumSegmentSize).contains(config.segmentSize) else {
            throw ClientError.usage("\(config.path): SegmentSize must be 1 B…64 MiB")
        }
        let fileID = try FileID.random()
        let row = placement.row(for: fileID)
        // Fail fast, before any data moves, when some stripe cannot reach its write quorum.
        for stripe in 0..<placement.stripeCount {
            let reachable = try placement.nodes(stripe: stripe, row: row).filter { links[$0] != nil }
            if reachable.count < quorum {
                throw ClientError.notEnoughNodes(
                    "stripe \(stripe) of \(name) needs \(quorum) of nodes \(try placement.nodes(stripe: stripe, row: row).map(nodeName).joined(separator: ",")), "
                        + "only \(reachable.count) reachable; the previous version is unchanged")
            }
        }
        let previous = try await lookUp(path: name)
        let dataKey = try SymmetricKey.generate()
        let layout = try StripeLayout(fileSize: source.size, stripeCount: placement.stripeCount)

        var durable = [Int: [Int]]()
        do {
            durable = try await withThrowingTaskGroup(of: (Int, [Int]).self) { group in
                var result = [Int: [Int]]()
                for stripe in 0..<placement.stripeCount {
                    if stripe >= Self.concurrentStripes, let (done, nodes) = try await group.next() { result[done] = nodes }
                    let header = try StripeHeader(fileID: fileID, stripeIndex: UInt32(stripe),
                                                  stripeCount: UInt32(placement.stripeCount), segmentSize: segmentSize,
                                                  plaintextLength: layout.length(ofStripe: stripe))
                    let targets = try placement.nodes(stripe: stripe, row: row)
                    let fileOffset = layout.offset(ofStripe: stripe)
                    group.addTask {
                        let nodes = try await self.putStripe(header: header, targets: targets, quorum: quorum, dataKey: dataKey,
                                                             source: source, fileOffset: fileOffset, progress: progress)
                        return (stripe, nodes)
                    }
                }
                for try await (stripe, nodes) in group { result[stripe] = nodes }
                return result
            }
        } catch {
            await removeObjects(fileID: fileID, placement: placement, row: row)
            throw error
        }

        var missing = [MissingReplica]()
        for stripe in 0..<placement.stripeCount {
            for node in try placement.nodes(stripe: stripe, row: row) where !(durable[stripe] ?? []).contains(node) {
                missing.append(MissingReplica(stripe: UInt32(stripe), node: UInt16(node)))
            }
        }
        let bundle = currentBundle
        let body = ManifestBody(name: name, size: source.size, modificationSeconds: source.modificationSeconds,
                                modificationNanoseconds: source.modificationNanoseconds, dataKey: dataKey,
                                segmentSize: segmentSize, nodeCount: UInt16(placement.nodeCount),
                                replicas: UInt16(placement.replicas), stripeLengths: layout.lengths,
                                missingReplicas: missing, dataKeyEpoch: bundle.epoch)
        let id = ManifestID.derive(path: name, nameKey: bundle.nameKey)
        // Re-read right before the commit: a writer that committed while this put uploaded wins, and this put
        // removes what it uploaded instead of overwriting that version or deleting its objects.
        let current = try await lookUp(path: name)
        guard current.highestVersion == previous.highestVersion else {
            await removeObjects(fileID: fileID, placement: placement, row: row)
            throw ClientError.failed("\(name) was stored by another client during this put; run the put again")
        }
        let version = try current.nextVersion()
        let manifest = try Manifest.seal(manifestID: id, version: version, fileID: fileID, keyEpoch: bundle.epoch,
                                         body: body, masterKey: bundle.masterKey)
        let (committed, stale) = try await commitManifest(id: id, bytes: manifest)
        guard !committed.isEmpty else {
            await removeObjects(fileID: fileID, placement: placement, row: row)
            if !stale.isEmpty {
                throw ClientError.failed("\(name) was stored by another client at the same time; run the put again")
            }
            throw ClientError.notEnoughNodes("no node accepted the manifest of \(name); the previous version is unchanged")
        }
        if !stale.isEmpty {
            // Committed on some nodes while another writer committed the same version elsewhere: readers agree on
            // one of them (ManifestRecord.supersedes); keep every object so that neither version loses data.
            throw ClientError.failed("\(name) was stored by another client at the same time on "
                                     + stale.map(nodeName).joined(separator: ",") + "; check it with edfs ls")
        }
        // The old version's objects go only once every reachable node holds the new manifest: a node that still
        // serves the old one must not point at deleted objects while the new one's holders are down.
        if committed.count == reachableNodes.count {
            if let old = current.newest, !old.body.isDeleted, old.header.fileID != fileID { await removeObjects(of: old) }
            await removeSupersededManifests(current, keeping: id)
        } else {
            notices.add("\(name): manifest stored on \(committed.count) of \(reachableNodes.count) reachable nodes; "
                        + "the previous version's objects are kept")
        }
        return PutResult(name: name, size: source.size, version: version, missingReplicas: missing, manifestNodes: committed)
    }

    /// Streams one stripe to its replicas; returns the nodes that acknowledged it durably (at least `quorum`).
    private func putStripe(header: StripeHeader, targets: [Int], quorum: Int, dataKey: SymmetricKey, source: LocalSource,
                           fileOffset: UInt64, progress: TransferProgress?) async throws -> [Int] {
        let work = try StripeSealWork(header: header, dataKey: dataKey,
                                      batchBytes: Self.segmentsPerBatch(segmentSize: Int(header.segmentSize))
                                          * Int(header.segmentSize))
        var uploads = [(node: Int, upload: any ObjectUpload)]()
        for node in targets {
            guard let link = links[node] else { continue }
            do {
                uploads.append((node, try await link.beginPut(object: header.objectName, length: header.objectLength)))
            } catch {
                notices.add("node \(nodeName(node)): cannot store stripe \(header.stripeIndex): \(error)")
            }
        }
        func requireQuorum() async throws {
            if uploads.count < quorum {
                for (_, upload) in uploads { await upload.cancel() }
                throw ClientError.notEnoughNodes("stripe \(header.stripeIndex) reached \(uploads.count) of the \(quorum) nodes "
                                                 + "the write quorum needs; the previous version is unchanged")
            }
        }
        try await requireQuorum()
        do {
            uploads = await send(ByteBuffer(bytes: work.sealer.headerBytes), to: uploads, stripe: header.stripeIndex)
            try await requireQuorum()
            var done: UInt64 = 0
            repeat {
                let count = Int(min(UInt64(work.batchBytes), header.plaintextLength - done))
                let offset = fileOffset + done
                let sealed = try await runBlocking {
                    try work.readAndSeal(source: source, offset: offset, count: count)
                }
                uploads = await send(sealed, to: uploads, stripe: header.stripeIndex)
                try await requireQuorum()
                done += UInt64(count)
                progress?.advance(count)
            } while done < header.plaintextLength
        } catch {
            // A read, seal or quorum failure: the nodes drop the unfinished uploads and store nothing.
            for (_, upload) in uploads { await upload.cancel() }
            throw error
        }
        let acknowledged = await withTaskGroup(of: Int?.self) { group in
            for (node, upload) in uploads {
                group.addTask {
                    do {
                        try await withDeadline(ClusterSession.requestTimeout, self.nodeName(node)) { try await upload.finish() }
                        return node
                    } catch {
                        self.notices.add("node \(self.nodeName(node)): stripe \(header.stripeIndex) not stored: \(error)")
                        return nil
                    }
                }
            }
            var nodes = [Int]()
            for await node in group { if let node { nodes.append(node) } }
            return nodes.sorted()
        }
        guard acknowledged.count >= quorum else {
            throw ClientError.notEnoughNodes("stripe \(header.stripeIndex) was stored on \(acknowledged.count) node(s), "
                                             + "the write quorum is \(quorum); the previous version is unchanged")
        }
        return acknowledged
    }

    /// Writes `chunk` to every upload at once; returns those that took it (a failed one is cancelled and reported).
    func send(_ chunk: ByteBuffer, to uploads: [(node: Int, upload: any ObjectUpload)],
                      stripe: UInt32) async -> [(node: Int, upload: any ObjectUpload)] {
        await withTaskGroup(of: (Int, (any ObjectUpload)?).self) { group in
            for (node, upload) in uploads {
                group.addTask {
                    do {
                        try await withDeadline(ClusterSession.requestTimeout, self.nodeName(node)) { try await upload.write(chunk) }
                        return (node, upload)
                    } catch {
                        self.notices.add("node \(self.nodeName(node)): stripe \(stripe) upload failed: \(error)")
                        await upload.cancel()
                        return (node, nil)
                    }
                }
            }
            var kept = [(node: Int, upload: any ObjectUpload)]()
            for await (node, upload) in group { if let upload { kept.append((node, upload)) } }
            return kept.sorted { $0.node < $1.node }
        }
    }

    /// Stores a manifest on every reachable node; returns the nodes that accepted it and those that hold a
    /// version at least as new (another writer).
    func commitManifest(id: ManifestID, bytes: [UInt8]) async throws -> (accepted: [Int], stale: [Int]) {
        let results = await onEveryNode { _, link in try await link.putManifest(id.hex, bytes: bytes) }
        var accepted = [Int]()
        var stale = [Int]()
        for (node, result) in results.sorted(by: { $0.key < $1.key }) {
            switch result {
            case .success: accepted.append(node)
            case .failure(NodeLinkError.stale): stale.append(node)
            case let .failure(error): notices.add("node \(nodeName(node)): manifest not stored: \(error)")
            }
        }
        return (accepted, stale)
    }

    /// Deletes the objects of a file version from every reachable node of its placement (best effort).
    /// While a re-encrypting rotation is unfinished, also removes the objects that rotation may have written for this
    /// version before it was interrupted: once the version is superseded the rotation will never commit them.
    func removeObjects(of record: ManifestRecord, includingReencryptionTarget: Bool = true) async {
        guard let placement = try? record.placement() else { return }
        await removeObjects(fileID: record.header.fileID, placement: placement, row: placement.row(for: record.header.fileID))
        if includingReencryptionTarget, bundles.count == 2, keyslot.header.reencrypting,
           let derived = try? Self.reencryptionFileID(for: record.header.fileID, target: bundles[0]) {
            await removeObjects(fileID: derived, placement: placement, row: placement.row(for: derived))
        }
    }

    func removeObjects(fileID: FileID, placement: Placement, row: Int) async {
        await withTaskGroup(of: Void.self) { group in
            for stripe in 0..<placement.stripeCount {
                guard let nodes = try? placement.nodes(stripe: stripe, row: row) else { continue }
                for node in nodes where node < links.count {
                    guard let link = links[node] else { continue }
                    let name = StripeHeader.objectName(fileID: fileID, stripeIndex: UInt32(stripe))
                    group.addTask { try? await link.delete(object: name) }
                }
            }
        }
    }

    /// Removes manifests of `lookup` stored under ids other than `keeping` (older key epochs), up to their version.
    func removeSupersededManifests(_ lookup: ManifestLookup, keeping id: ManifestID) async {
        for copy in lookup.copies where copy.id != id {
            guard let link = links[copy.node] else { continue }
            try? await link.deleteManifest(copy.id.hex, maxVersion: copy.version)
        }
    }
}

/// A local regular file opened for reading by offset.
final class LocalSource: Sendable {
    let descriptor: Int32
    let size: UInt64
    let modificationSeconds: Int64
    let modificationNanoseconds: UInt32

    init(path: String) throws {
        // O_NONBLOCK: opening a FIFO must not wait for a writer; only regular files are read, with pread.
        let fd = open(path, O_RDONLY | O_CLOEXEC | O_NONBLOCK)
        guard fd >= 0 else {
            let code = errno
            let reason = String(cString: strerror(code))
            throw code == ENOENT ? ClientError.noSuchFile("\(path): no such file") : ClientError.localIO("cannot open \(path): \(reason)")
        }
        var info = stat()
        guard fstat(fd, &info) == 0, (info.st_mode & S_IFMT) == S_IFREG else {
            Glibc.close(fd)
            throw ClientError.usage("\(path) is not a regular file")
        }
        descriptor = fd
        size = UInt64(info.st_size)
        modificationSeconds = Int64(info.st_mtim.tv_sec)
        modificationNanoseconds = UInt32(info.st_mtim.tv_nsec)
    }

    /// Reads exactly `buffer.count` bytes at `offset`, or throws (the file shrank while being read).
    func read(into buffer: UnsafeMutableRawBufferPointer, at offset: UInt64) throws {
        var done = 0
        while done < buffer.count {
            let n = pread(descriptor, buffer.baseAddress?.advanced(by: done), buffer.count - done, off_t(offset) + off_t(done))
            if n < 0 && errno == EINTR { continue }
            guard n > 0 else {
                throw ClientError.localIO(n == 0 ? "file shrank while it was being read" : "read failed: \(String(cString: strerror(errno)))")
            }
            done += n
        }
    }

    func close() { _ = Glibc.close(descriptor) }
}

/// One stripe's sealer and plaintext buffer.
///
/// `@unchecked Sendable` is sound: the put task of one stripe owns it and hands it to exactly one blocking job at a
/// time, awaiting that job before the next (`putStripe` is sequential per stripe), so the sealer and buffer are never
/// used by two threads at once; the buffer is freed in `deinit`, after the last job.
final class StripeSealWork: @unchecked Sendable {
    let sealer: StripeSealer
    let batchBytes: Int
    private let plaintext: UnsafeMutableRawBufferPointer
    private let allocator = ByteBufferAllocator()

    init(header: StripeHeader, dataKey: SymmetricKey, batchBytes: Int) throws {
        sealer = try StripeSealer(header: header, dataKey: dataKey)
        self.batchBytes = batchBytes
        plaintext = .allocate(byteCount: max(batchBytes, 1), alignment: 64)
    }

    /// Reads `count` bytes at `offset` and seals them into a new buffer ready to send.
    func readAndSeal(source: LocalSource, offset: UInt64, count: Int) throws -> ByteBuffer {
        let input = UnsafeMutableRawBufferPointer(rebasing: plaintext[0..<count])
        defer { input.initializeMemory(as: UInt8.self, repeating: 0) }  // plaintext does not linger in the buffer
        try source.read(into: input, at: offset)
        return try seal(UnsafeRawBufferPointer(input))
    }

    /// Seals the next batch of plaintext into a new buffer ready to send.
    func seal(_ input: UnsafeRawBufferPointer) throws -> ByteBuffer {
        let sealedCount = sealer.sealedLength(ofBatch: input.count)
        var buffer = allocator.buffer(capacity: sealedCount)
        try buffer.writeWithUnsafeMutableBytes(minimumWritableBytes: sealedCount) { out in
            try sealer.seal(input, into: UnsafeMutableRawBufferPointer(rebasing: out[0..<sealedCount]))
            return sealedCount
        }
        return buffer
    }

    deinit { plaintext.deallocate() }
}
