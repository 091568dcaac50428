import EDFSCrypto
import EDFSFormat
import NIOCore

/// Random-access reads of one stored file version (what `edfs mount` serves `read` with): a read at any offset
/// fetches only the segments it covers, each with a ranged GET_OBJECT of its sealed bytes on one replica
/// (`44 + index × (segmentSize + 16)`, FORMAT.md §2), verified and opened on its own under its index and final flag.
/// Opened segments go to a shared bounded `SegmentCache`; sequential reads start fetching the next segments ahead.
/// A failed, stalled or corrupt replica is left for the stripe's next one (primary first, as in `get`), and the one
/// that answered stays preferred for that stripe.
public final class RandomAccessRead: Sendable {
    public let record: ManifestRecord
    private let session: ClusterSession
    private let cache: SegmentCache
    private let stripes: [Stripe]
    /// Segments fetched ahead of a sequential read.
    private let readAheadSegments: Int
    private let state = PthreadMutex(State())

    /// Fetches in flight, what each stripe's last good replica was, where the last read ended.
    private struct State {
        var inFlight: [SegmentCache.Key: RunFetch] = [:]
        var preferredReplica: [Int: Int] = [:]
        var lastEnd: UInt64?
        var fetchedSegments = 0
        var requests = 0
    }

    /// One ranged GET of consecutive segments of a stripe, shared by every read that waits for one of them.
    private struct RunFetch: Sendable {
        let task: Task<[OpenedSegment], any Error>
        let index: Int
    }

    private struct Stripe: Sendable {
        let header: StripeHeader
        let fileOffset: UInt64
        let replicas: [Int]
        var length: UInt64 { header.plaintextLength }
        var segmentCount: UInt64 {
            header.plaintextLength == 0 ? 1 : (header.plaintextLength + UInt64(header.segmentSize) - 1) / UInt64(header.segmentSize)
        }
    }

    /// A reader of `record` over `session`'s links. `readAheadBytes` (default 8 MiB, at least one segment; 0: none)
    /// is how far ahead of a sequential read segments are fetched; it is kept below half the cache.
    public init(session: ClusterSession, record: ManifestRecord, cache: SegmentCache,
                readAheadBytes: Int = 8 << 20) throws {
        guard Int(record.body.nodeCount) <= session.nodeCount else {
            throw ClientError.usage("\(record.body.name) was stored on \(record.body.nodeCount) nodes; the config lists "
                                    + "\(session.nodeCount)")
        }
        self.session = session
        self.record = record
        self.cache = cache
        var stripes = [Stripe]()
        var offset: UInt64 = 0
        for index in 0..<record.body.stripeLengths.count {
            let header = try record.stripeHeader(index)
            stripes.append(Stripe(header: header, fileOffset: offset, replicas: try record.nodes(ofStripe: index)))
            offset += header.plaintextLength
        }
        self.stripes = stripes
        let segmentSize = max(1, Int(record.body.segmentSize))
        let wanted = readAheadBytes <= 0 ? 0 : max(1, readAheadBytes / segmentSize)
        readAheadSegments = min(wanted, max(0, cache.capacitySegments / 2), max(0, cache.capacityBytes / 2 / segmentSize))
    }

    /// The file's size.
    public var size: UInt64 { record.body.size }

    /// Segments fetched from nodes so far, and the GET_OBJECT requests that carried them (for tests and benchmarks).
    public var fetchCounts: (segments: Int, requests: Int) { state.withLock { ($0.fetchedSegments, $0.requests) } }

    /// Up to `count` bytes from `offset`: fewer only at the end of the file, none at or past it.
    public func read(at offset: UInt64, count: Int) async throws -> [UInt8] {
        guard count > 0, offset < size else { return [] }
        let end = min(size, offset + UInt64(count))
        if record.body.isInline {  // an inline file: its bytes came with the manifest
            return try record.inlineData().withUnsafeBytes { Array($0[Int(offset)..<Int(end)]) }
        }
        var pieces = [(key: SegmentCache.Key, from: Int, length: Int)]()
        var position = offset
        while position < end {
            let (stripeIndex, inStripe) = locate(position)
            let stripe = stripes[stripeIndex]
            let segmentSize = UInt64(stripe.header.segmentSize)
            let segment = inStripe / segmentSize
            let segmentStart = stripe.fileOffset + segment * segmentSize
            let segmentEnd = stripe.fileOffset + min(stripe.length, (segment + 1) * segmentSize)
            let take = min(end, segmentEnd) - position
            pieces.append((key(stripeIndex, segment), Int(position - segmentStart), Int(take)))
            position += take
        }
        // Sequential: starting where the last read ended, give or take one segment (the kernel sends a sequential
        // reader's requests several at a time, so they can arrive a little out of order).
        let slack = UInt64(record.body.segmentSize)
        let sequential = state.withLock { state -> Bool in
            defer { state.lastEnd = end }
            guard let last = state.lastEnd else { return offset == 0 }
            return offset + slack >= last && offset <= last + slack
        }
        let segments = try await segments(pieces.map(\.key))
        if sequential, readAheadSegments > 0, let last = pieces.last?.key { readAhead(after: last) }
        var output = [UInt8]()
        output.reserveCapacity(Int(end - offset))
        for (piece, segment) in zip(pieces, segments) {
            segment.withBytes { bytes in
                output.append(contentsOf: UnsafeRawBufferPointer(rebasing: bytes[piece.from..<(piece.from + piece.length)]))
            }
        }
        return output
    }

    /// The stripe holding file byte `position` (< size) and the offset in it; empty stripes hold none.
    private func locate(_ position: UInt64) -> (Int, UInt64) {
        var low = 0, high = stripes.count - 1
        while low < high {  // the last stripe whose start is ≤ position and that holds bytes
            let middle = (low + high + 1) / 2
            if stripes[middle].fileOffset <= position { low = middle } else { high = middle - 1 }
        }
        while stripes[low].length == 0 || position >= stripes[low].fileOffset + stripes[low].length { low += 1 }
        return (low, position - stripes[low].fileOffset)
    }

    private func key(_ stripe: Int, _ segment: UInt64) -> SegmentCache.Key {
        SegmentCache.Key(fileID: record.header.fileID, stripe: stripe, segment: segment)
    }

    /// The opened segments for `keys`, from the cache, a fetch in flight, or new fetches (consecutive missing
    /// segments of one stripe share one ranged GET).
    private func segments(_ keys: [SegmentCache.Key]) async throws -> [OpenedSegment] {
        var found = [OpenedSegment?](repeating: nil, count: keys.count)
        var waits = [(Int, RunFetch)]()
        for (position, key) in keys.enumerated() {
            if let cached = cache.segment(key) { found[position] = cached }
        }
        let missing = keys.indices.filter { found[$0] == nil }.map { keys[$0] }
        let fetches = startFetches(missing)
        for (position, key) in keys.enumerated() where found[position] == nil {
            if let fetch = fetches[key] { waits.append((position, fetch)) } else if let cached = cache.segment(key) {
                found[position] = cached  // finished between the two looks
            } else {
                throw ClientError.failed("segment \(key.segment) of stripe \(key.stripe) of \(record.body.name) vanished")
            }
        }
        for (position, fetch) in waits { found[position] = try await fetch.task.value[fetch.index] }
        return found.compactMap { $0 }
    }

    /// Starts ranged GETs for whichever of `keys` are neither cached nor in flight, and returns the fetch each key
    /// waits for.
    @discardableResult
    private func startFetches(_ keys: [SegmentCache.Key]) -> [SegmentCache.Key: RunFetch] {
        state.withLock { locked in
            var result = [SegmentCache.Key: RunFetch]()
            var runs = [(stripe: Int, first: UInt64, count: Int)]()
            for key in keys {
                if let fetch = locked.inFlight[key] {
                    result[key] = fetch
                    continue
                }
                if cache.contains(key) { continue }
                if let last = runs.last, last.stripe == key.stripe, last.first + UInt64(last.count) == key.segment,
                   last.count < Self.maximumRunSegments {
                    runs[runs.count - 1].count += 1
                } else {
                    runs.append((key.stripe, key.segment, 1))
                }
            }
            for run in runs {
                let keys = (0..<run.count).map { key(run.stripe, run.first + UInt64($0)) }
                let task = Task { [self] in
                    defer { self.state.withLock { state in for key in keys { state.inFlight[key] = nil } } }
                    let opened = try await fetchRun(stripe: run.stripe, first: run.first, count: run.count)
                    for (key, segment) in zip(keys, opened) { cache.insert(key, segment) }
                    return opened
                }
                for (index, key) in keys.enumerated() {
                    let fetch = RunFetch(task: task, index: index)
                    locked.inFlight[key] = fetch
                    result[key] = fetch
                }
                locked.fetchedSegments += run.count
                locked.requests += 1
            }
            return result
        }
    }

    /// Starts fetching the segments that follow `last` (into the next stripes), without waiting; a failure is left
    /// for the read that needs the segment. It waits until half the window is missing, so that one GET carries
    /// several segments (a GET per segment would leave the stream latency-bound).
    private func readAhead(after last: SegmentCache.Key) {
        var keys = [SegmentCache.Key]()
        var stripe = last.stripe
        var segment = last.segment + 1
        while keys.count < readAheadSegments, stripe < stripes.count {
            if stripes[stripe].length > 0, segment < stripes[stripe].segmentCount {
                keys.append(key(stripe, segment))
                segment += 1
            } else {
                stripe += 1
                segment = 0
            }
        }
        let missing = state.withLock { locked in keys.filter { locked.inFlight[$0] == nil && !cache.contains($0) } }
        let nextIsCovered = keys.first.map { !missing.contains($0) } ?? true
        if nextIsCovered && missing.count < max(1, readAheadSegments / 2) { return }
        startFetches(missing)
    }

    /// Consecutive segments `first..<first+count` of `stripe`, verified and opened, from the first replica that
    /// delivers them.
    private func fetchRun(stripe index: Int, first: UInt64, count: Int) async throws -> [OpenedSegment] {
        let stripe = stripes[index]
        let replicas = stripe.replicas
        let start = state.withLock { $0.preferredReplica[index] } ?? 0
        var failures = [(node: Int, reason: String, corrupt: Bool)]()
        for step in 0..<replicas.count {
            let position = (start + step) % replicas.count
            let node = replicas[position]
            guard let link = session.links[node] else {
                failures.append((node, "unreachable", false))
                continue
            }
            do {
                let opened = try await fetchRun(stripe, first: first, count: count, from: link)
                if position != start { state.withLock { $0.preferredReplica[index] = position } }
                if !failures.isEmpty {
                    session.notices.add("stripe \(index) of \(record.body.name) came from \(session.nodeName(node)) after: "
                                        + failures.map { "\(session.nodeName($0.node)) \($0.reason)" }.joined(separator: "; "))
                }
                return opened
            } catch where error is CancellationError {
                throw error
            } catch {
                session.lost.note(node, error)
                failures.append((node, String(describing: error), StripeDownload.isIntegrityFailure(error)))
            }
        }
        let summary = failures.map { "\(session.nodeName($0.node)): \($0.reason)" }.joined(separator: "; ")
        if failures.allSatisfy(\.corrupt) {
            throw ClientError.integrity("stripe \(index) of \(record.body.name): no replica verified (\(summary))")
        }
        throw ClientError.notEnoughNodes("stripe \(index) of \(record.body.name): no replica reachable (\(summary))")
    }

    /// One ranged GET of the sealed segments on one replica, each segment then opened under its own index.
    private func fetchRun(_ stripe: Stripe, first: UInt64, count: Int, from link: any NodeLink) async throws
        -> [OpenedSegment] {
        let header = stripe.header
        let segmentSize = UInt64(header.segmentSize)
        let sealedSegment = segmentSize + UInt64(AESGCM.tagByteCount)
        let plainStart = first * segmentSize
        let plainLength = min(stripe.length, (first + UInt64(count)) * segmentSize) - plainStart
        let sealedLength = Int(plainLength) + count * AESGCM.tagByteCount
        let offset = UInt64(StripeHeader.byteCount) + first * sealedSegment
        let download = try await withDeadline(RequestDeadline.seconds, link.nodeName) {
            try await link.get(object: header.objectName, offset: offset, length: UInt64(sealedLength))
        }
        guard download.objectLength == header.objectLength else {
            await download.cancel()
            if download.objectLength > header.objectLength { throw StripeError.trailingBytes }
            throw StripeError.truncated(expected: header.objectLength, received: download.objectLength)
        }
        var sealed = [UInt8]()
        sealed.reserveCapacity(sealedLength)
        do {
            while let chunk = try await StripeDownload.next(of: download, timeout: RequestDeadline.replicaStallSeconds) {
                guard sealed.count + chunk.readableBytes <= sealedLength else { throw StripeError.trailingBytes }
                chunk.withUnsafeReadableBytes { sealed.append(contentsOf: $0) }
            }
        } catch {
            await download.cancel()
            throw error
        }
        guard sealed.count == sealedLength else {
            throw StripeError.truncated(expected: header.objectLength, received: offset + UInt64(sealed.count))
        }
        let endsStream = first + UInt64(count) == stripe.segmentCount
        let dataKey = record.body.dataKey
        let input = sealed
        return try await runBlocking {
            let cipher = try ParallelSegmentCipher(key: dataKey, scheme: header.segmentScheme(), direction: .open,
                                                   workers: min(count, ParallelSegmentCipher.defaultWorkers))
            let plaintext = UnsafeMutableRawBufferPointer.allocate(byteCount: max(1, Int(plainLength)), alignment: 64)
            defer {
                plaintext.initializeMemory(as: UInt8.self, repeating: 0)
                plaintext.deallocate()
            }
            let output = UnsafeMutableRawBufferPointer(rebasing: plaintext[0..<Int(plainLength)])
            try input.withUnsafeBytes { sealedBytes in
                do {
                    try cipher.process(SegmentBatch(firstSegmentIndex: first, endsStream: endsStream, input: sealedBytes,
                                                    output: output))
                } catch let failure as SegmentCipherError where failure.isAuthenticationFailure {
                    throw StripeError.segmentAuthenticationFailed(segment: failure.segmentIndex)
                }
            }
            return (0..<count).map { k in
                let from = k * Int(segmentSize)
                let to = min(Int(plainLength), from + Int(segmentSize))
                return OpenedSegment(copying: UnsafeRawBufferPointer(rebasing: output[from..<to]))
            }
        }
    }

    /// The most segments one GET asks for (bounds one request's buffer).
    static let maximumRunSegments = 16
}
