import EDFSCrypto
import EDFSFormat
import EDFSTransport
import NIOCore

/// The PUT_OBJECT path of one session, owned by its reader loop: the objects being received, each DATA frame
/// written to disk before the next is read (so a slow disk slows the sender), END making the object durable and
/// visible in a child task, CANCEL or the connection's end discarding what was not finished.
///
/// A small object (at most `smallObjectLength` bytes, while the connection holds at most `smallObjectBudget` bytes of
/// them) is instead kept in memory until its END and then written, made durable and published in one trip to the
/// thread pool: one hop instead of three (open, write, commit), and no temporary file while its bytes arrive. Its
/// free-space check then comes at END; a larger object is still checked and opened at once.
struct UploadPath: Sendable {
    /// Objects up to this length are gathered in memory before they are written.
    static let smallObjectLength = 64 << 10
    /// Bytes of small objects (by announced length) one connection may hold at once, from PUT_OBJECT until their
    /// write has ended; beyond it, objects take the streaming path. Bounds the memory: 64 connections × 256 KiB =
    /// 16 MiB node-wide (SECURITY.md).
    static let smallObjectBudget = 256 << 10

    /// The bytes of small objects a connection holds: taken at PUT_OBJECT, given back when the object is dropped or
    /// its write (in a child task of the session) has ended.
    final class SmallObjectBytes: Sendable {
        private let held = PthreadMutex(0)

        /// Takes `count` bytes if they fit the budget.
        func take(_ count: Int) -> Bool {
            held.withLock { held in
                guard held + count <= UploadPath.smallObjectBudget else { return false }
                held += count
                return true
            }
        }

        func give(_ count: Int) { held.withLock { $0 -= count } }

        /// Bytes held now (for tests).
        var current: Int { held.withLock { $0 } }
    }

    /// A small object being gathered.
    private struct SmallUpload: Sendable {
        let user: String
        let objectID: String
        let length: UInt64
        var bytes: [UInt8] = []
    }

    let services: NodeServices
    let output: SessionOutput
    /// The peer's name in logs.
    let peer: String
    /// Request id → the object it is writing.
    private var writers: [UInt32: ObjectWriter] = [:]
    /// Request id → the small object it is gathering.
    private var small: [UInt32: SmallUpload] = [:]
    /// Announced bytes of the small objects gathered or being written.
    let smallBytes = SmallObjectBytes()

    /// A DATA payload's memory (a `PayloadBlocks` block for a full frame) goes back for the frame decoder's next
    /// payload once the last copy of the frame is dropped, right after its write.
    init(services: NodeServices, output: SessionOutput, peer: String) {
        self.services = services
        self.output = output
        self.peer = peer
    }

    /// Starts PUT request `id`: checks the id and length, opens the temporary file; refusals are sent at once.
    mutating func begin(id: UInt32, user: String, objectID: String, length: UInt64) async {
        guard WireName.isValidID(objectID) else {
            await output.send(.error(WireError(.invalidName, "object id \(WireName.quoted(objectID)) is not allowed"),
                                     requestID: id))
            return
        }
        guard length <= services.limits.maxObjectLength else {
            await output.send(.error(WireError(.tooLarge, "object of \(length) bytes is over the limit of "
                + "\(services.limits.maxObjectLength)"), requestID: id))
            return
        }
        if length <= UInt64(Self.smallObjectLength), smallBytes.take(Int(length)) {
            var upload = SmallUpload(user: user, objectID: objectID, length: length)
            upload.bytes.reserveCapacity(Int(length))
            small[id] = upload
            output.table.begin(id, .upload)
            return
        }
        let store = services.store
        do throws(StoreError) {
            let writer = try await services.blocking { () throws(StoreError) -> ObjectWriter in
                try store.beginWrite(user: user, id: objectID, length: length)
            }
            writers[id] = writer
            output.table.begin(id, .upload)
        } catch {
            services.logFailure("put refused", error, peer: peer)
            await output.send(.error(error.wire, requestID: id))
        }
    }

    /// Writes a DATA frame of request `id` (of kind `kind` in the table) to disk. A DATA frame for a live request
    /// that is not a PUT is FATAL; one for a finished request raced its ERROR or CANCEL and is dropped.
    mutating func data(_ frame: WireFrame, kind: NodeRequestTable.Kind?) async throws(WireError) {
        let id = frame.header.requestID
        if var upload = small.removeValue(forKey: id) {
            let payload = frame.payload
            let received = UInt64(upload.bytes.count + payload.readableBytes)
            guard received <= upload.length else {
                smallBytes.give(Int(upload.length))
                let error = StoreError.lengthMismatch(expected: upload.length, received: received)
                services.logFailure("put failed", error, peer: peer)
                await output.finish(id, with: .error(error.wire, requestID: id))
                return
            }
            payload.withUnsafeReadableBytes { upload.bytes.append(contentsOf: $0) }
            small[id] = upload
            services.metrics.objectReceived.increment(by: payload.readableBytes)
            return
        }
        guard let writer = writers[id] else {
            if kind != nil { throw WireError(.malformed, "DATA for request \(id), which is not a PUT", fatal: true) }
            return
        }
        let payload = frame.payload
        do throws(StoreError) {
            try await services.blocking { () throws(StoreError) in
                let failure: StoreError? = payload.withUnsafeReadableBytes { raw in
                    do throws(StoreError) { try writer.append(raw) } catch { return error }
                    return nil
                }
                if let failure { throw failure }
            }
            services.metrics.objectReceived.increment(by: payload.readableBytes)
        } catch {
            services.logFailure("put failed", error, peer: peer)
            writers[id] = nil
            writer.abort()
            await output.finish(id, with: .error(error.wire, requestID: id))
        }
    }

    /// Ends PUT request `id`: the object is made durable and published in a task of `group`, which then replies.
    mutating func end(id: UInt32, kind: NodeRequestTable.Kind?, in group: inout DiscardingTaskGroup) throws(WireError) {
        if let upload = small.removeValue(forKey: id) {
            output.table.update(id, to: .finishing)
            group.addTask { [services, output, peer, smallBytes] in
                let store = services.store
                do throws(StoreError) {
                    defer { smallBytes.give(Int(upload.length)) }
                    try await services.blocking { () throws(StoreError) in
                        let writer = try store.beginWrite(user: upload.user, id: upload.objectID, length: upload.length)
                        try writer.append(upload.bytes)
                        try writer.commit()
                    }
                    await output.finish(id, with: SessionOutput.frame(.putObject(length: upload.length), id))
                } catch {
                    services.logFailure("put failed", error, peer: peer)
                    await output.finish(id, with: .error(error.wire, requestID: id))
                }
            }
            return
        }
        guard let writer = writers.removeValue(forKey: id) else {
            if kind != nil { throw WireError(.malformed, "END for request \(id), which is not a PUT", fatal: true) }
            return
        }
        output.table.update(id, to: .finishing)
        group.addTask { [services, output, peer] in
            do throws(StoreError) {
                try await services.blocking { () throws(StoreError) in try writer.commit() }
                await output.finish(id, with: SessionOutput.frame(.putObject(length: writer.announcedLength), id))
            } catch {
                writer.abort()
                services.logFailure("put failed", error, peer: peer)
                await output.finish(id, with: .error(error.wire, requestID: id))
            }
        }
    }

    /// Discards request `id`'s unfinished object, if it is one (CANCEL).
    mutating func cancel(id: UInt32) {
        writers.removeValue(forKey: id)?.abort()
        if let upload = small.removeValue(forKey: id) { smallBytes.give(Int(upload.length)) }
    }

    /// Discards every unfinished object (the connection ended).
    mutating func abortAll() {
        for writer in writers.values { writer.abort() }
        writers.removeAll()
        for upload in small.values { smallBytes.give(Int(upload.length)) }
        small.removeAll()
    }
}
