import Dispatch
import EDFSCrypto
import EDFSFormat
@testable import EDFSNode
import EDFSTestSupport
import Foundation
import Testing

/// Group commit (docs/STORAGE.md, "Writing"): writers share folder fsyncs, yet each is answered only after an fsync
/// of its folder that started after its rename; one user's manifest writes do not hold the user's lock across fsyncs.
@Suite struct GroupCommitTests {
    /// What happened, in order: a caller's arrival and return, and each sync's start (with the folder's names at that
    /// moment) and end.
    enum Event: Sendable, Equatable {
        case arrived(Int)
        case returned(Int)
        case started(flush: Int, names: Set<String>)
        case ended(Int)
    }

    /// A flusher whose fsyncs are recorded in `log`, and which runs `pause` at the start of every fsync.
    static func recordingFlusher(_ log: PthreadMutex<[Event]>,
                                 pause: @escaping @Sendable (Int) -> Void = { _ in }) -> FolderFlusher {
        let counter = PthreadMutex(0)
        return FolderFlusher(sync: { (path: String) throws(StoreError) in
            let number = counter.withLock { n -> Int in
                n += 1
                return n
            }
            let names = Set((try? FileManager.default.contentsOfDirectory(atPath: path)) ?? [])
            log.withLock { $0.append(.started(flush: number, names: names)) }
            pause(number)
            try FileIO.fsyncDirectory(path)
            log.withLock { $0.append(.ended(number)) }
        })
    }

    /// Each caller `i` returned only after a flush that started after it arrived had ended.
    static func everyReturnFollowsALaterFlush(_ events: [Event], callers: Range<Int>) -> Bool {
        callers.allSatisfy { caller in
            guard let arrival = events.firstIndex(of: .arrived(caller)),
                  let back = events.firstIndex(of: .returned(caller)) else { return false }
            return events.indices.contains { start in
                guard start > arrival, case let .started(flush, _) = events[start],
                      let end = events.firstIndex(of: .ended(flush)) else { return false }
                return end < back
            }
        }
    }

    static func waitUntil(_ condition: () -> Bool) async -> Bool {
        for _ in 0..<Int(TestTime.scaled(seconds: 2000)) {
            if condition() { return true }
            try? await Task.sleep(for: .milliseconds(5))
        }
        return condition()
    }

    /// `group.wait()` without holding a thread.
    static func finished(_ group: DispatchGroup) async {
        await withCheckedContinuation { continuation in group.notify(queue: .global()) { continuation.resume() } }
    }

    @Test func callersDuringAFlushWaitForTheNextOneAndShareIt() async throws {
        let folder = try TemporaryDirectory()
        defer { folder.remove() }
        let log = PthreadMutex<[Event]>([])
        let release = DispatchSemaphore(value: 0)
        let flusher = Self.recordingFlusher(log) { number in
            if number == 1 { release.wait() }  // hold the first flush until the others are inside `flush`
        }
        let group = DispatchGroup()
        let run: @Sendable (Int) -> Void = { caller in
            log.withLock { $0.append(.arrived(caller)) }
            try? flusher.flush(folder.path)
            log.withLock { $0.append(.returned(caller)) }
        }
        DispatchQueue.global().async(group: group) { run(0) }
        #expect(await Self.waitUntil { log.withLock { $0.contains(.started(flush: 1, names: [])) } })
        for caller in 1...6 {
            DispatchQueue.global().async(group: group) { run(caller) }
        }
        #expect(await Self.waitUntil { flusher.callers(of: folder.path) == 7 })
        // None of the six may return on the running flush: it started before they arrived.
        #expect(!log.withLock { $0.contains { if case .returned = $0 { true } else { false } } })
        release.signal()
        await Self.finished(group)
        let events = log.withLock { $0 }
        #expect(Self.everyReturnFollowsALaterFlush(events, callers: 0..<7))
        #expect(flusher.flushCount == 2, "the six callers that arrived during the first flush share the second")
        #expect(flusher.activeFolders == 0)
    }

    @Test func concurrentCallersAreAlwaysCoveredByALaterFlush() throws {
        let folder = try TemporaryDirectory()
        defer { folder.remove() }
        let log = PthreadMutex<[Event]>([])
        let flusher = Self.recordingFlusher(log)
        DispatchQueue.concurrentPerform(iterations: 64) { caller in
            log.withLock { $0.append(.arrived(caller)) }
            try? flusher.flush(folder.path)
            log.withLock { $0.append(.returned(caller)) }
        }
        #expect(Self.everyReturnFollowsALaterFlush(log.withLock { $0 }, callers: 0..<64))
        #expect(flusher.flushCount <= 64)
        #expect(flusher.activeFolders == 0)
    }

    @Test func aFailedFlushFailsTheCallersItCovers() throws {
        let folder = try TemporaryDirectory()
        defer { folder.remove() }
        let fail = PthreadMutex(true)
        let flusher = FolderFlusher(sync: { (path: String) throws(StoreError) in
            if fail.withLock({ $0 }) { throw .io("fsync directory", "injected") }
            try FileIO.fsyncDirectory(path)
        })
        #expect(throws: StoreError.self) { try flusher.flush(folder.path) }
        fail.withLock { $0 = false }
        try flusher.flush(folder.path)  // a later flush that succeeds answers its callers
        #expect(flusher.flushCount == 2)
    }

    /// A manifest store over `root` whose manifests folder's flushes are recorded.
    static func recordingStore(_ root: String, log: PthreadMutex<[Event]>,
                               pause: @escaping @Sendable (Int) -> Void = { _ in }) throws -> MetadataStore {
        MetadataStore(objects: try ObjectStore(root: root, blockSize: 1 << 20,
                                               flusher: recordingFlusher(log, pause: pause)))
    }

    @Test func aStoredManifestIsAnsweredOnlyAfterAFlushThatSawItsRename() throws {
        let folder = try TemporaryDirectory()
        defer { folder.remove() }
        let log = PthreadMutex<[Event]>([])
        let metadata = try Self.recordingStore(folder.path, log: log)
        let ids = try (0..<16).map { _ in try randomManifestID() }
        let manifests = try ids.map { try testManifest(id: $0, version: 1) }
        let uncovered = PthreadMutex<[String]>([])
        DispatchQueue.concurrentPerform(iterations: ids.count) { writer in
            do {
                try metadata.putManifest(user: "alice", id: ids[writer].hex, bytes: manifests[writer])
            } catch {
                uncovered.withLock { $0.append("writer \(writer) failed: \(error)") }
                return
            }
            // The flush that answered this writer must have started with the manifest already in place.
            let events = log.withLock { $0 }
            let covered = events.contains { event in
                guard case let .started(flush, names) = event, names.contains(ids[writer].hex) else { return false }
                return events.contains(.ended(flush))
            }
            if !covered { uncovered.withLock { $0.append("writer \(writer) was answered before a flush covering its rename ended") } }
        }
        #expect(uncovered.withLock { $0 } == [])
        for (id, manifest) in zip(ids, manifests) {
            #expect(try metadata.objects.readAll(user: "alice", namespace: .manifests, id: id.hex) == manifest)
        }
        #expect(try metadata.objects.temporaryFiles().isEmpty)
        #expect(metadata.lockedUsers == 0)
    }

    @Test func twoConcurrentWritersOfOneManifestCannotBothWin() throws {
        let folder = try TemporaryDirectory()
        defer { folder.remove() }
        let metadata = MetadataStore(objects: try ObjectStore(root: folder.path))
        for _ in 0..<4 {
            let id = try randomManifestID()
            // Same version: exactly one may win.
            let candidates = try (0..<8).map { _ in try testManifest(id: id, version: 7) }
            let outcomes = PthreadMutex<[Int: Bool]>([:])
            DispatchQueue.concurrentPerform(iterations: candidates.count) { writer in
                let won: Bool
                do {
                    try metadata.putManifest(user: "alice", id: id.hex, bytes: candidates[writer])
                    won = true
                } catch StoreError.stale {
                    won = false
                } catch {
                    return  // neither a win nor a refusal: counted below as missing
                }
                outcomes.withLock { $0[writer] = won }
            }
            let seen = outcomes.withLock { $0 }
            #expect(seen.count == candidates.count, "every writer either won or was refused as stale")
            let winners = seen.filter(\.value).map(\.key)
            #expect(winners.count == 1)
            if let winner = winners.first {
                #expect(try metadata.objects.readAll(user: "alice", namespace: .manifests, id: id.hex) == candidates[winner])
            }
            // Rising versions at once: whatever interleaving, the highest ends up stored.
            let rising = try (8..<16).map { try testManifest(id: id, version: UInt64($0)) }
            DispatchQueue.concurrentPerform(iterations: rising.count) { writer in
                try? metadata.putManifest(user: "alice", id: id.hex, bytes: rising[writer])
            }
            #expect(try metadata.objects.readAll(user: "alice", namespace: .manifests, id: id.hex) == rising.last)
        }
        #expect(try metadata.objects.temporaryFiles().isEmpty)
        #expect(metadata.lockedUsers == 0)
    }

    @Test func aUsersLockIsNotHeldAcrossTheFolderFlush() async throws {
        let folder = try TemporaryDirectory()
        defer { folder.remove() }
        let log = PthreadMutex<[Event]>([])
        let release = DispatchSemaphore(value: 0)
        let held = PthreadMutex(false)
        let metadata = try Self.recordingStore(folder.path, log: log) { _ in
            if held.withLock({ $0 }) { release.wait() }
        }
        // The user's folders exist before the first flush is held.
        let first = try randomManifestID()
        try metadata.putManifest(user: "alice", id: first.hex, bytes: try testManifest(id: first, version: 1))
        held.withLock { $0 = true }
        let a = try randomManifestID()
        let b = try randomManifestID()
        let group = DispatchGroup()
        DispatchQueue.global().async(group: group) {
            try? metadata.putManifest(user: "alice", id: a.hex, bytes: try testManifest(id: a, version: 1))
        }
        let manifests = folder.path + "/users/alice/manifests/"
        #expect(await Self.waitUntil { FileManager.default.fileExists(atPath: manifests + a.hex) && metadata.lockedUsers == 0 })
        held.withLock { $0 = false }
        // A's flush is still held; B (same user) still gets its lock, checks, renames and then waits for a flush.
        DispatchQueue.global().async(group: group) {
            try? metadata.putManifest(user: "alice", id: b.hex, bytes: try testManifest(id: b, version: 1))
        }
        #expect(await Self.waitUntil { FileManager.default.fileExists(atPath: manifests + b.hex) })
        let manifestsFolder = folder.path + "/users/alice/manifests"
        #expect(await Self.waitUntil { metadata.objects.flusher.callers(of: manifestsFolder) == 2 })
        release.signal()
        await Self.finished(group)
        #expect(metadata.lockedUsers == 0)
        #expect(metadata.objects.flusher.activeFolders == 0)
    }

    @Test func aStaleRefusalWaitsForAFlushToo() throws {
        let folder = try TemporaryDirectory()
        defer { folder.remove() }
        let log = PthreadMutex<[Event]>([])
        let metadata = try Self.recordingStore(folder.path, log: log)
        let id = try randomManifestID()
        try metadata.putManifest(user: "alice", id: id.hex, bytes: try testManifest(id: id, version: 3))
        let before = metadata.objects.flusher.flushCount
        #expect(throws: StoreError.self) {
            try metadata.putManifest(user: "alice", id: id.hex, bytes: try testManifest(id: id, version: 2))
        }
        #expect(metadata.objects.flusher.flushCount > before,
                "the refusal rests on the stored version, which must be durable before it is told")
        #expect(try metadata.objects.temporaryFiles().isEmpty)
    }
}
