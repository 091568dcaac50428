import EDFSFormat
import EDFSTransport
import NIOCore

/// The PUT_OBJECT path of one session, owned by its reader loop: the objects being received, each DATA frame
/// written to disk before the next is read (so a slow disk slows the sender), END making the object durable and
/// visible in a child task, CANCEL or the connection's end discarding what was not finished.
struct UploadPath: Sendable {
    let services: NodeServices
    let output: SessionOutput
    /// The peer's name in logs.
    let peer: String
    /// Request id → the object it is writing.
    private var writers: [UInt32: ObjectWriter] = [:]
    /// Takes each DATA payload back once it is written, for the frame decoder to reuse.
    let recycler: PayloadRecycler?

    init(services: NodeServices, output: SessionOutput, peer: String, recycler: PayloadRecycler? = nil) {
        self.recycler = recycler
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
        let store = services.store
        do throws(StoreError) {
            let writer = try await services.blocking { () throws(StoreError) -> ObjectWriter in
                try store.beginWrite(user: user, id: objectID, length: length)
            }
            writers[id] = writer
            output.table.begin(id, .upload)
        } catch {
            services.logger.warning("put refused: \(error)", metadata: ["peer": "\(peer)"])
            await output.send(.error(error.wire, requestID: id))
        }
    }

    /// Writes a DATA frame of request `id` (of kind `kind` in the table) to disk. A DATA frame for a live request
    /// that is not a PUT is FATAL; one for a finished request raced its ERROR or CANCEL and is dropped.
    mutating func data(_ frame: WireFrame, kind: NodeRequestTable.Kind?) async throws(WireError) {
        let id = frame.header.requestID
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
            recycler?.recycle(payload)
        } catch {
            services.logger.warning("put failed: \(error)", metadata: ["peer": "\(peer)"])
            writers[id] = nil
            writer.abort()
            await output.finish(id, with: .error(error.wire, requestID: id))
        }
    }

    /// Ends PUT request `id`: the object is made durable and published in a task of `group`, which then replies.
    mutating func end(id: UInt32, kind: NodeRequestTable.Kind?, in group: inout DiscardingTaskGroup) throws(WireError) {
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
                services.logger.warning("put failed: \(error)", metadata: ["peer": "\(peer)"])
                await output.finish(id, with: .error(error.wire, requestID: id))
            }
        }
    }

    /// Discards request `id`'s unfinished object, if it is one (CANCEL).
    mutating func cancel(id: UInt32) {
        writers.removeValue(forKey: id)?.abort()
    }

    /// Discards every unfinished object (the connection ended).
    mutating func abortAll() {
        for writer in writers.values { writer.abort() }
        writers.removeAll()
    }
}
