import EDFSFormat
import EDFSTransport

/// The single-reply requests of a logged-in user (STATUS, STAT/DELETE_OBJECT, LIST, manifests, keyslot,
/// SET_VERIFIER): each is one blocking store call on the node's pool and one reply frame.
struct ControlRequests: Sendable {
    let services: NodeServices

    /// Why `request` is refused before it starts (not FATAL), if it is.
    static func refusal(of request: WireRequest) -> WireError? {
        if case let .setVerifier(method, bytes) = request {
            do throws(WireError) {
                _ = try LoginVerifier(wireMethod: method, bytes: bytes)
            } catch {
                return error
            }
        }
        return nil
    }

    /// Items of a PUT_MANIFESTS written and fsynced per pool job: the files' fsyncs of a long request run on several
    /// threads at once (which the disk serves faster than one after another), its checks and renames in one job.
    static let manifestsPerPreparation = 4
    /// Pool jobs one PUT_MANIFESTS takes at most (a long one gives each job more items): one request of 256 items
    /// must not queue 64 fsync jobs ahead of every other user's work on the node's 16 threads.
    static let preparationJobsPerRequest = 4

    /// Serves request `id` for `user` and sends its reply or ERROR, unless it was cancelled meanwhile.
    func serve(id: UInt32, user: String, request: WireRequest, output: SessionOutput) async {
        if case let .putManifests(items) = request {
            await serveManifestWrites(id: id, user: user, items: items, output: output)
            return
        }
        do throws(StoreError) {
            let result = try await services.blocking { [services] () throws(StoreError) -> WireReply in
                try Self.answer(request, user: user, services: services)
            }
            await output.finish(id, with: SessionOutput.frame(result, id))
        } catch {
            await output.finish(id, with: .error(error.wire, requestID: id))
        }
    }

    /// PUT_MANIFESTS: each item its own outcome by the rules of PUT_MANIFEST (`MetadataStore.putManifests`). A short
    /// request is one pool job; a longer one has its items written and fsynced by several pool jobs at once, then one
    /// job for the checks, the renames (one hold of the user's lock) and one folder flush.
    private func serveManifestWrites(id: UInt32, user: String, items: [WireManifestWrite], output: SessionOutput) async {
        let metadata = services.metadata
        do throws(StoreError) {
            let outcomes: [StoreError?]
            if items.count <= Self.manifestsPerPreparation {
                outcomes = try await services.blocking { () throws(StoreError) in
                    try metadata.putManifests(user: user, items: items)
                }
            } else {
                let prepared = try await prepare(user: user, items: items)
                outcomes = try await services.blocking { () throws(StoreError) in
                    try metadata.commitManifests(user: user, prepared)
                }
            }
            await output.finish(id, with: SessionOutput.frame(.putManifests(results: outcomes.map { $0?.wire }), id))
        } catch {
            await output.finish(id, with: .error(error.wire, requestID: id))
        }
    }

    /// `MetadataStore.prepareManifests` for `items`, at least `manifestsPerPreparation` per pool job and at most
    /// `preparationJobsPerRequest` jobs, all at once; in item order. When a job fails as a whole (the user's folder,
    /// the pool stopping), what the others wrote is dropped.
    private func prepare(user: String, items: [WireManifestWrite]) async throws(StoreError)
        -> [Result<MetadataStore.PreparedManifest, StoreError>] {
        typealias Part = Result<[Result<MetadataStore.PreparedManifest, StoreError>], StoreError>
        let metadata = services.metadata
        let perJob = max(Self.manifestsPerPreparation,
                         (items.count + Self.preparationJobsPerRequest - 1) / Self.preparationJobsPerRequest)
        let starts = Array(stride(from: 0, to: items.count, by: perJob))
        let parts = await withTaskGroup(of: (Int, Part).self) { group in
            for (index, start) in starts.enumerated() {
                let chunk = items[start..<min(start + perJob, items.count)]
                group.addTask { [services] in
                    do throws(StoreError) {
                        return (index, .success(try await services.blocking { () throws(StoreError) in
                            try metadata.prepareManifests(user: user, items: chunk)
                        }))
                    } catch {
                        return (index, .failure(error))
                    }
                }
            }
            var parts = [Part?](repeating: nil, count: starts.count)
            for await (index, part) in group { parts[index] = part }
            return parts
        }
        var prepared = [Result<MetadataStore.PreparedManifest, StoreError>]()
        var failure: StoreError?
        for part in parts {
            switch part {
            case let .success(done)?: prepared += done
            case let .failure(error)?: failure = error
            case nil: failure = .io("node", "a manifest write was not prepared")
            }
        }
        if let failure {
            for case let .success(item) in prepared { item.writer.abort() }
            throw failure
        }
        return prepared
    }

    /// The reply to one request (blocking).
    private static func answer(_ request: WireRequest, user: String,
                               services: NodeServices) throws(StoreError) -> WireReply {
        let store = services.store
        let metadata = services.metadata
        switch request {
        case .status:
            let counts = try store.counts(user: user)
            let space = try store.space()
            let uptime = ContinuousClock.now - services.started
            return .status(WireNodeStatus(
                nodeName: services.configuration.name, freeBytes: space.free, totalBytes: space.total,
                objectCount: UInt64(counts.objects), manifestCount: UInt64(counts.manifests),
                uptimeSeconds: UInt64(max(0, uptime.components.seconds)), softwareVersion: SoftwareVersion.text,
                storedBytes: try store.storedBytes(user: user), lastScrub: services.scrubRecord.report?.summary))
        case let .statObject(objectID, verify):
            let stat = try store.stat(user: user, id: objectID, verify: verify)
            return .statObject(length: stat.length, blockSize: UInt32(stat.blockSize), state: stat.state)
        case let .deleteObject(objectID):
            try metadata.deleteObject(user: user, id: objectID)
            return .deleteObject
        case let .list(kind, startAfter, limit):
            let page = try store.list(user: user, namespace: kind == .objects ? .objects : .manifests,
                                      startAfter: startAfter, limit: Int(limit))
            // Never more than one frame: cut the page (and say there is more) if need be.
            let maxPayload = services.limits.maxFrameLength - WireProtocol.lengthCountedHeaderBytes
            var size = 3
            var entries: [WireListEntry] = []
            for entry in page.entries {
                size += WireReply.encodedLength(of: entry)
                if size > maxPayload { break }
                entries.append(entry)
            }
            return .list(entries: entries, more: page.more || entries.count < page.entries.count)
        case let .putManifest(manifestID, bytes):
            try metadata.putManifest(user: user, id: manifestID, bytes: bytes)
            return .putManifest
        case let .getManifest(manifestID):
            return .getManifest(bytes: try store.readAll(user: user, namespace: .manifests, id: manifestID))
        case let .getManifests(ids):
            // As many answers, in order, as fit one frame; the client asks again for the rest.
            let maxPayload = services.limits.maxFrameLength - WireProtocol.lengthCountedHeaderBytes
            var size = 2
            var answers: [WireManifestAnswer] = []
            for manifestID in ids {
                let answer: WireManifestAnswer
                do throws(StoreError) {
                    answer = .manifest(try store.readAll(user: user, namespace: .manifests, id: manifestID))
                } catch {
                    switch error {
                    case .notFound: answer = .absent
                    case .invalidName: throw error
                    default: answer = .unreadable
                    }
                }
                size += answer.encodedLength
                if size > maxPayload && !answers.isEmpty { break }
                answers.append(answer)
            }
            return .getManifests(answers: answers)
        case let .deleteManifest(manifestID, bound):
            try metadata.deleteManifest(user: user, id: manifestID, ifVersionAtMost: bound)
            return .deleteManifest
        case let .putKeyslot(bytes):
            try metadata.putKeyslot(user: user, bytes: bytes)
            return .putKeyslot
        case .getKeyslot:
            return .getKeyslot(bytes: try metadata.getKeyslot(user: user))
        case .getKeyslotHistory:
            // One frame at the most: the count byte and a length per entry, then the entries that fit.
            let room = services.limits.maxFrameLength - WireProtocol.lengthCountedHeaderBytes - 1
                - 4 * WireReply.maxKeyslotHistory
            return .getKeyslotHistory(entries: try metadata.keyslotHistory(user: user, maxTotalBytes: room))
        case let .setVerifier(method, bytes):
            guard let verifier = try? LoginVerifier(wireMethod: method, bytes: bytes) else {
                throw .invalid("SET_VERIFIER does not parse")  // checked by `refusal` before: unreachable
            }
            try metadata.putVerifier(user: user, verifier: verifier)
            return .setVerifier
        default:
            throw .invalid("not a single-reply request")
        }
    }
}
