import EDFSCrypto
#if canImport(Glibc)
import Glibc
#elseif canImport(Darwin)
import Darwin
#endif

/// One file being written into the store: bytes go to a temporary file beside the target while their block
/// checksums are computed; `makeDurable()` appends the footer and fsyncs, `publish()` renames over the target and waits
/// for a flush of the folder (`FolderFlusher`: shared with the writers that renamed there meanwhile). Until published,
/// nothing is visible; `abort()` (or deinit) removes the temporary file.
/// Blocking: call from a thread pool. Methods are serialised by an internal lock.
public final class ObjectWriter: Sendable {
    /// What is being written, for messages ("object", "manifest", "keyslot").
    let what: String
    let directory: String
    let temporaryPath: String
    let finalPath: String
    /// The exact number of data bytes this file must receive.
    public let announcedLength: UInt64
    let blockSize: Int
    /// Flushes the folder after the rename, grouped with other writers'.
    let flusher: FolderFlusher
    /// Told of the rename (the folder's names changed).
    let listings: ListingCache

    private struct State {
        var fd: Int32
        var written: UInt64 = 0
        var blockCRC: UInt64 = 0
        var blockFill = 0
        /// Data bytes already handed to the kernel for writeback.
        var writebackStarted = 0
        var crcs: [UInt64] = []
        var durable = false
        var finished = false
    }

    private let state: PthreadMutex<State>

    init(what: String, directory: String, finalName: String, announcedLength: UInt64, blockSize: Int,
         flusher: FolderFlusher, listings: ListingCache) throws(StoreError) {
        self.what = what
        self.flusher = flusher
        self.listings = listings
        self.directory = directory
        self.finalPath = directory + "/" + finalName
        self.temporaryPath = directory + "/" + ObjectStore.temporaryPrefix + ObjectStore.randomSuffix()
        self.announcedLength = announcedLength
        self.blockSize = blockSize
        let fd = try FileIO.openFile(temporaryPath, O_WRONLY | O_CREAT | O_EXCL, mode: 0o600, what: "temporary \(what)")
        var initial = State(fd: fd)
        initial.crcs.reserveCapacity(StoredFooter.blockCount(dataLength: announcedLength, blockSize: blockSize))
        state = PthreadMutex(initial)
    }

    deinit { abort() }

    /// Data bytes received so far.
    public var bytesWritten: UInt64 { state.withLock { $0.written } }

    /// Appends data bytes. Throws `lengthMismatch` (and aborts) if they go past the announced length.
    public func append(_ bytes: UnsafeRawBufferPointer) throws(StoreError) {
        try state.withLock { (s: inout State) throws(StoreError) in
            guard !s.finished, !s.durable, s.fd >= 0 else { throw .io("write \(what)", "the write was already ended") }
            guard s.written + UInt64(bytes.count) <= announcedLength else {
                let received = s.written + UInt64(bytes.count)
                discard(&s)
                throw .lengthMismatch(expected: announcedLength, received: received)
            }
            do throws(StoreError) {
                try FileIO.pwriteAll(s.fd, bytes, at: Int(s.written), what: what)
            } catch {
                discard(&s)
                throw error
            }
            var offset = 0
            while offset < bytes.count {
                let take = min(blockSize - s.blockFill, bytes.count - offset)
                s.blockCRC = BlockCRC.crc64(UnsafeRawBufferPointer(rebasing: bytes[offset..<(offset + take)]),
                                            continuing: s.blockCRC)
                s.blockFill += take
                offset += take
                if s.blockFill == blockSize {
                    s.crcs.append(s.blockCRC)
                    s.blockCRC = 0
                    s.blockFill = 0
                }
            }
            s.written += UInt64(bytes.count)
            if Int(s.written) - s.writebackStarted >= Self.writebackChunk {
                FileIO.startWriteback(s.fd, offset: s.writebackStarted, length: Int(s.written) - s.writebackStarted)
                s.writebackStarted = Int(s.written)
            }
        }
    }

    /// Data bytes between requests to start writeback (see `FileIO.startWriteback`).
    static let writebackChunk = 8 << 20

    public func append(_ bytes: [UInt8]) throws(StoreError) {
        let failure: StoreError? = bytes.withUnsafeBytes { raw in
            do throws(StoreError) { try append(raw) } catch { return error }
            return nil
        }
        if let failure { throw failure }
    }

    /// Checks the length, writes the footer and fsyncs the file, so its bytes survive a crash (it is not yet
    /// visible: see `publish()`). Aborts on any failure.
    public func makeDurable() throws(StoreError) {
        try state.withLock { (s: inout State) throws(StoreError) in
            guard !s.finished, !s.durable, s.fd >= 0 else { throw .io("finish \(what)", "the write was already ended") }
            guard s.written == announcedLength else {
                let received = s.written
                discard(&s)
                throw .lengthMismatch(expected: announcedLength, received: received)
            }
            if s.blockFill > 0 {
                s.crcs.append(s.blockCRC)
                s.blockFill = 0
            }
            let footer = StoredFooter(dataLength: s.written, blockSize: blockSize, blockCRCs: s.crcs).encoded()
            do throws(StoreError) {
                try FileIO.pwriteAll(s.fd, footer, at: Int(s.written), what: what)
                try FileIO.fsyncFile(s.fd, what: what)
            } catch {
                discard(&s)
                throw error
            }
            close(s.fd)
            s.fd = -1
            s.durable = true
        }
    }

    /// Renames the durable file over the target and flushes the folder: from here on it is durable.
    public func publish() throws(StoreError) {
        try renameIntoPlace()
        try flusher.flush(directory)
    }

    /// Renames the durable file over the target, without flushing the folder: the rename is visible but not yet
    /// durable, so the caller must `flusher.flush(directory)` before it tells anyone the write succeeded.
    func renameIntoPlace() throws(StoreError) {
        try state.withLock { (s: inout State) throws(StoreError) in
            guard s.durable, !s.finished else { throw .io("publish \(what)", "the file was not made durable") }
            do throws(StoreError) {
                try FileIO.renameFile(temporaryPath, finalPath, what: what)
            } catch {
                discard(&s)
                throw error
            }
            s.finished = true
            listings.changed(directory)
        }
    }

    /// `makeDurable()` then `publish()`.
    public func commit() throws(StoreError) {
        try makeDurable()
        try publish()
    }

    /// Drops the temporary file, unless already published. Idempotent.
    public func abort() {
        state.withLock { discard(&$0) }
    }

    private func discard(_ s: inout State) {
        guard !s.finished else { return }
        if s.fd >= 0 {
            close(s.fd)
            s.fd = -1
        }
        unlink(temporaryPath)
        s.finished = true
    }
}
