import EDFSCrypto
import EDFSFormat
import NIOCore

/// Reads one stripe of a file version from its replicas, primary first: every batch verified and opened before it
/// is handed on; a failed, stalled or corrupt replica is abandoned for the next one at the first batch not yet
/// verified, with a notice.
struct StripeDownload: Sendable {
    let session: ClusterSession
    /// Where the stripes' batch buffers come from (one pool per command; by default none are kept between stripes).
    var pool = BatchBufferPool(limit: 0)

    /// Streams one stripe from its replicas through the opener (an inline file's from its manifest). `consume` gets
    /// each verified batch of plaintext with its offset in the stripe, exactly once and in order, inside a blocking
    /// job; `afterBatch` then runs on the task with the batch's size (its errors are not blamed on the replica).
    func fetch(_ record: ManifestRecord, stripe: Int,
               consume: @escaping @Sendable (UnsafeRawBufferPointer, UInt64) throws -> Void,
               afterBatch: @escaping @Sendable (Int) async throws -> Void, damage: ReadDamage? = nil) async throws {
        if record.body.isInline {
            // An inline file's one stripe is in its manifest, authenticated with it: nothing to fetch or verify.
            let inline = try record.inlineData()
            try await runBlocking { try inline.withUnsafeBytes { try consume($0, 0) } }
            try await afterBatch(inline.count)
            return
        }
        let header = try record.stripeHeader(stripe)
        let work = try StripeOpenWork(header: header, dataKey: record.body.dataKey,
                                      batchSegments: TransferTuning.segmentsPerBatch(segmentSize: Int(header.segmentSize)),
                                      pool: pool)
        var failures = [(node: Int, reason: String, corrupt: Bool)]()
        let replicas = try record.nodes(ofStripe: stripe)
        for (attempt, node) in replicas.enumerated() {
            guard let link = session.links[node] else {
                failures.append((node, "unreachable", false))
                continue
            }
            do {
                try await read(work: work, from: link, consume: consume, afterBatch: afterBatch)
                let bad = failures.filter(\.corrupt).map(\.node)
                if !bad.isEmpty { damage?.record(stripe: stripe, bad: bad, good: node) }
                if attempt > 0 || !failures.isEmpty {
                    session.notices.add("stripe \(stripe) of \(record.body.name) came from \(session.nodeName(node)) after: "
                                + failures.map { "\(session.nodeName($0.node)) \($0.reason)" }.joined(separator: "; "))
                }
                return
            } catch let error as ClientError {
                throw error  // local output failures are not the replica's fault
            } catch where error is CancellationError || Task.isCancelled {
                throw CancellationError()  // another stripe failed: stop, this replica did nothing wrong
            } catch {
                session.lost.note(node, error)
                let corrupt = Self.isIntegrityFailure(error)
                failures.append((node, String(describing: error), corrupt))
                let next = replicas.dropFirst(attempt + 1).first.map { "; trying \(session.nodeName($0))" } ?? ""
                session.notices.add("stripe \(stripe) of \(record.body.name): replica on \(session.nodeName(node)) failed: \(error)\(next)")
            }
        }
        let summary = failures.map { "\(session.nodeName($0.node)): \($0.reason)" }.joined(separator: "; ")
        if failures.allSatisfy(\.corrupt) {
            throw ClientError.integrity("stripe \(stripe) of \(record.body.name): no replica verified (\(summary))")
        }
        throw ClientError.notEnoughNodes("stripe \(stripe) of \(record.body.name): no replica reachable (\(summary))")
    }

    /// Reads one replica from the first unverified byte to the end, opening segments as they arrive and handing on
    /// whole batches.
    private func read(work: StripeOpenWork, from link: any NodeLink,
                       consume: @escaping @Sendable (UnsafeRawBufferPointer, UInt64) throws -> Void,
                       afterBatch: @escaping @Sendable (Int) async throws -> Void) async throws {
        let header = work.opener.header
        try work.discardPartialBatch()
        let start = work.headerVerified ? UInt64(StripeHeader.byteCount) + work.sealedDone : 0
        let download = try await withDeadline(RequestDeadline.seconds, link.nodeName) {
            try await link.get(object: header.objectName, offset: start, length: nil)
        }
        guard download.objectLength == header.objectLength else {
            await download.cancel()
            if download.objectLength > header.objectLength { throw StripeError.trailingBytes }
            throw StripeError.truncated(expected: header.objectLength, received: download.objectLength)
        }
        do {
            while let chunk = try await Self.next(of: download, timeout: RequestDeadline.replicaStallSeconds) {
                var chunk = chunk
                while chunk.readableBytes > 0 {
                    try chunk.readWithUnsafeReadableBytes { bytes in try work.absorb(bytes) }
                    if work.batchIsFull {
                        let opened = try await runBlocking { try work.deliverBatch(consume) }
                        try await Self.notBlamingReplica { try await afterBatch(opened) }
                    }
                }
                download.recycle(chunk)  // its bytes are in the batch: the connection may receive into it again
            }
            if work.hasPartialBatch {
                let opened = try await runBlocking { try work.deliverBatch(consume) }
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

    /// The next chunk, or a timeout error when the replica stalls. Bytes already received are taken without the
    /// timer (a task group, a child task and a sleeping task), which only a wait needs (finding 7 of
    /// docs/PERFORMANCE.md: most chunks of a large stripe, and every chunk of a small one, are already here).
    static func next(of download: any ObjectDownload, timeout: Double) async throws -> ByteBuffer? {
        if let ready = try download.nextIfReady() {
            try Task.checkCancellation()
            return ready
        }
        return try await withThrowingTaskGroup(of: ByteBuffer?.self) { group in
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
        case NodeLinkError.notFound: return true  // a reachable node lost it: data missing, not a node missing
        default: return false
        }
    }
}
