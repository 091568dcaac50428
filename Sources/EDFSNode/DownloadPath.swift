import EDFSFormat
import EDFSTransport
import NIOCore

/// The GET_OBJECT path of one session: opens the object, sends its reply, then streams verified blocks as DATA
/// frames within the client's credit and the node's read budget, and ends with END (or ERROR).
struct DownloadPath: Sendable {
    let services: NodeServices
    let output: SessionOutput
    /// The peer's name in logs.
    let peer: String

    /// Serves GET request `id` for `user` until it is done, cancelled (its credit closed) or the connection ends.
    func serve(id: UInt32, user: String, objectID: String, offset: UInt64, length: UInt64,
                          window: UInt32, credit: AsyncAllowance) async {
        let store = services.store
        do throws(StoreError) {
            let reader = try await services.blocking { () throws(StoreError) -> ObjectReader in
                try store.openReader(user: user, id: objectID, serving: true)
            }
            guard offset <= reader.length else {
                throw .invalid("offset \(offset) is past the end of the object (\(reader.length) bytes)")
            }
            let end = offset + min(length, reader.length - offset)
            guard output.table.isActive(id) else { return }
            await output.send(SessionOutput.frame(.getObject(objectLength: reader.length, sendLength: end - offset), id))
            var position = offset
            while position < end {
                position = try await sendBlock(id: id, reader: reader, from: position, to: end, credit: credit,
                                               window: Int(window))
            }
            await output.finish(id, with: WireFrame(type: .end, requestID: id, payload: ByteBuffer()))
        } catch {
            services.logFailure("get failed", error, peer: peer)
            await output.finish(id, with: .error(error.wire, requestID: id))
        }
    }

    /// Sends bytes from `position` to the end of its block (or `end`): waits for the client's credit first (holding no
    /// memory), then reads and verifies the block with buffer budget, and sends as much as the credit allows. If the
    /// credit runs out inside the block, the buffer is dropped (the rest is read again later), so a reader that stops
    /// granting credit never holds node memory. Returns the position after what was sent; a cancelled GET or a
    /// closed connection returns `end`.
    private func sendBlock(id: UInt32, reader: ObjectReader, from position: UInt64, to end: UInt64,
                           credit: AsyncAllowance, window: Int) async throws(StoreError) -> UInt64 {
        let block = Int(position / UInt64(reader.blockSize))
        let blockStart = UInt64(block) * UInt64(reader.blockSize)
        let blockLength = reader.footer.length(ofBlock: block)
        var from = Int(position - blockStart)
        let to = Int(min(end, blockStart + UInt64(blockLength)) - blockStart)
        let maxPayload = services.limits.maxDataPayload

        // Credit for the whole part of this block (or half the client's window, if that is smaller).
        var granted: Int
        do {
            granted = try await credit.take(minimum: min(to - from, max(1, window / 2)), maximum: to - from)
        } catch {
            output.table.finish(id)
            return end  // CANCEL, or the connection ended
        }
        // One GET of the connection at a time reads a block and hands it to the channel, and only while the channel
        // takes more output: a peer that stops reading holds its write buffer (≤ high water mark + one frame), never
        // the node's read budget, so it cannot stall other connections' GETs.
        let slot = output.sendSlot
        do {
            _ = try await slot.take(minimum: 1, maximum: 1)
        } catch {
            credit.add(granted)
            return end
        }
        defer { slot.add(1) }
        guard await output.writability.waitUntilWritable() else {
            credit.add(granted)
            return end
        }
        let budget = services.readBudget
        do {
            _ = try await budget.take(minimum: blockLength, maximum: blockLength)
        } catch {
            credit.add(granted)
            return end
        }
        defer { budget.add(blockLength) }
        // A full block (1 MiB) is read into a kept, already-backed block of the payload pool: a fresh buffer of that
        // size is mapped anew by glibc, and the pread's first write of each of its pages faulted (27 % of the nodes'
        // CPU during a get, PERFORMANCE.md "The node's get path"). It goes back to the pool when its last DATA frame is
        // written; it holds stored ciphertext only, and a reused block is filled by the pread before it is read.
        let allocator = PayloadBlocks.allocator
        let buffer = try await services.blocking { () throws(StoreError) -> ByteBuffer in
            var buffer = allocator.buffer(capacity: blockLength)
            var failure: StoreError?
            buffer.writeWithUnsafeMutableBytes(minimumWritableBytes: blockLength) { raw in
                do throws(StoreError) {
                    try reader.readBlock(block, into: UnsafeMutableRawBufferPointer(rebasing: raw[0..<blockLength]))
                    return blockLength
                } catch {
                    failure = error
                    return 0
                }
            }
            if let failure { throw failure }
            return buffer
        }
        while granted > 0 {
            let count = min(granted, maxPayload)
            guard output.table.isActive(id), let slice = buffer.getSlice(at: buffer.readerIndex + from, length: count) else {
                return end
            }
            do {
                try await output.outbound.write(WireFrame(type: .data, requestID: id, payload: slice))
            } catch {
                output.table.finish(id)
                return end
            }
            services.metrics.objectSent.increment(by: count)
            from += count
            granted -= count
            if granted == 0, from < to { granted = credit.takeAvailable(maximum: to - from) }
        }
        return blockStart + UInt64(from)
    }
}
