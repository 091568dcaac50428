import EDFSCrypto
import EDFSTransport
#if canImport(Glibc)
import Glibc
#elseif canImport(Darwin)
import Darwin
#endif

/// One file being written into the store: bytes go to a temporary file beside the target while their block
/// checksums are computed; `makeDurable()` appends the footer and fsyncs, `publish()` renames over the target and waits
/// for a flush of the folder (`FolderFlusher`: shared with the writers that renamed there meanwhile). Until published,
/// nothing is visible; `abort()` (or deinit) removes the temporary file.
/// With `DirectIO`, data bytes are gathered in a page-aligned staging buffer and written a buffer at a time through a
/// second descriptor opened with O_DIRECT; the unaligned tail and the footer go through the ordinary descriptor, and
/// the one fsync covers both. If the file system refuses O_DIRECT, the file is written through the page cache from
/// there on, the staged bytes included.
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
    /// Where the staging buffer comes from and goes back to, when the data is written directly.
    let direct: DirectIO?

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
        /// The temporary file opened again with O_DIRECT, or -1 (buffered: not asked, refused, or no buffer free).
        var directFD: Int32 = -1
        /// The staging buffer while `directFD` is open: it holds the data bytes from `written - staged` to `written`;
        /// everything before is in the file, and `written - staged` is a multiple of the buffer's size.
        var staging: UnsafeMutableRawBufferPointer?
        var staged = 0
    }

    private let state: PthreadMutex<State>

    init(what: String, directory: String, finalName: String, announcedLength: UInt64, blockSize: Int,
         flusher: FolderFlusher, listings: ListingCache, direct: DirectIO? = nil) throws(StoreError) {
        self.what = what
        self.flusher = flusher
        self.listings = listings
        self.direct = direct
        self.directory = directory
        self.finalPath = directory + "/" + finalName
        self.temporaryPath = directory + "/" + ObjectStore.temporaryPrefix + ObjectStore.randomSuffix()
        self.announcedLength = announcedLength
        self.blockSize = blockSize
        let fd = try FileIO.openFile(temporaryPath, O_WRONLY | O_CREAT | O_EXCL, mode: 0o600, what: "temporary \(what)")
        var initial = State(fd: fd)
        initial.crcs.reserveCapacity(StoredFooter.blockCount(dataLength: announcedLength, blockSize: blockSize))
        if let direct, let staging = direct.buffers.takeBuffer() {
            initial.directFD = direct.openDirect(temporaryPath, O_WRONLY)
            if initial.directFD >= 0 { initial.staging = staging } else { direct.buffers.give(staging) }
        }
        state = PthreadMutex(initial)
    }

    /// Whether data bytes still go past the page cache (for tests).
    var writesDirectly: Bool { state.withLock { $0.directFD >= 0 } }

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
                if s.staging != nil {
                    try stage(&s, bytes)
                } else {
                    try FileIO.pwriteAll(s.fd, bytes, at: Int(s.written), what: what)
                }
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
            if s.directFD < 0, Int(s.written) - s.writebackStarted >= Self.writebackChunk {
                FileIO.startWriteback(s.fd, offset: s.writebackStarted, length: Int(s.written) - s.writebackStarted)
                s.writebackStarted = Int(s.written)
            }
        }
    }

    /// Data bytes between requests to start writeback (see `FileIO.startWriteback`).
    static let writebackChunk = 8 << 20

    /// Copies `bytes` (which follow `s.written`) into the staging buffer, writing it out each time it fills; if the
    /// file system refuses O_DIRECT meanwhile, the rest goes through the page cache.
    private func stage(_ s: inout State, _ bytes: UnsafeRawBufferPointer) throws(StoreError) {
        var offset = 0
        while offset < bytes.count {
            guard let staging = s.staging, let source = bytes.baseAddress, let target = staging.baseAddress else {
                try FileIO.pwriteAll(s.fd, UnsafeRawBufferPointer(rebasing: bytes[offset...]),
                                     at: Int(s.written) + offset, what: what)
                return
            }
            let take = min(staging.count - s.staged, bytes.count - offset)
            (target + s.staged).copyMemory(from: source + offset, byteCount: take)
            s.staged += take
            offset += take
            if s.staged == staging.count { try writeStaged(&s, endingAt: Int(s.written) + offset) }
        }
    }

    /// Writes the staged bytes, which end at file offset `end`: their aligned part through the O_DIRECT descriptor,
    /// the rest (an unaligned tail, or what a refusing file system did not take) through the ordinary one. After a
    /// refusal the direct descriptor is closed and the staging buffer given back: the file goes on buffered.
    private func writeStaged(_ s: inout State, endingAt end: Int) throws(StoreError) {
        guard let staging = s.staging, let direct else { return }
        let start = end - s.staged
        let aligned = s.staged / DirectTransfer.alignment * DirectTransfer.alignment
        var done = 0
        if aligned > 0 {
            done = try direct.write(s.directFD, UnsafeRawBufferPointer(rebasing: staging[0..<aligned]), at: start,
                                    what: what)
        }
        if done < s.staged {
            try FileIO.pwriteAll(s.fd, UnsafeRawBufferPointer(rebasing: staging[done..<s.staged]), at: start + done,
                                 what: what)
        }
        s.staged = 0
        if done < aligned { endDirect(&s) }
    }

    /// Closes the direct descriptor and gives the staging buffer back.
    private func endDirect(_ s: inout State) {
        if s.directFD >= 0 {
            close(s.directFD)
            s.directFD = -1
        }
        if let staging = s.staging {
            direct?.buffers.give(staging)
            s.staging = nil
            s.staged = 0
        }
    }

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
                try writeStaged(&s, endingAt: Int(s.written))
                endDirect(&s)
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
        endDirect(&s)
        if s.fd >= 0 {
            close(s.fd)
            s.fd = -1
        }
        unlink(temporaryPath)
        s.finished = true
    }
}
