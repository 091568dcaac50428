import EDFSCrypto
import EDFSTransport
#if canImport(Glibc)
import Glibc
#elseif canImport(Darwin)
import Darwin
#endif

/// One stored file opened for reading: its footer is read and checked on open, and every block is checked
/// against its CRC before any of its bytes are handed out. Blocking: call from a thread pool.
/// With `DirectIO` (a GET of a large object), blocks are read through a second descriptor opened with O_DIRECT into
/// a page-aligned buffer (the block rounded up to the page size: the footer follows the data, so reading past a
/// block's end is harmless), then copied out; a file system that refuses gets buffered reads from then on.
public final class ObjectReader: Sendable {
    private let fd: Int32
    private let what: String
    public let footer: StoredFooter
    /// The same file opened again with O_DIRECT, or -1; and where its aligned buffers come from.
    private let directFD: Int32
    private let direct: DirectIO?
    /// Set when the file system refused a direct read: later blocks are read through the page cache.
    private let directRefused = PthreadMutex(false)

    /// The data length (without the footer).
    public var length: UInt64 { footer.dataLength }
    public var blockSize: Int { footer.blockSize }
    public var blockCount: Int { footer.blockCRCs.count }

    /// Opens `path`. Missing: `notFound(what)`. Footer unreadable or inconsistent: `checksumMismatch`.
    convenience init(path: String, what: String) throws(StoreError) {
        try self.init(descriptor: FileIO.openFile(path, O_RDONLY, what: what), what: what)
    }

    /// Reads the footer of the file open on `fd`, which the reader owns from here on (closed on failure too). With
    /// `direct`, a file of at least its threshold of data bytes in page-aligned blocks that fit its buffers is also
    /// opened with O_DIRECT (through /proc/self/fd: the same file, even if another was renamed over its path since).
    init(descriptor fd: Int32, what: String, direct: DirectIO? = nil) throws(StoreError) {
        let footer: StoredFooter
        do throws(StoreError) {
            footer = try Self.readFooter(fd, what: what)
        } catch {
            close(fd)
            throw error
        }
        self.footer = footer
        self.fd = fd
        self.what = what
        var directFD: Int32 = -1
        if let direct, footer.dataLength >= UInt64(direct.threshold), footer.blockSize % DirectTransfer.alignment == 0,
           footer.blockSize <= direct.buffers.blockSize {
            directFD = direct.openDirect("/proc/self/fd/\(fd)", O_RDONLY)
        }
        self.directFD = directFD
        self.direct = directFD >= 0 ? direct : nil
    }

    deinit {
        close(fd)
        if directFD >= 0 { close(directFD) }
    }

    /// Whether blocks are read past the page cache (for tests).
    var readsDirectly: Bool { directFD >= 0 && !directRefused.withLock { $0 } }

    private static func readFooter(_ fd: Int32, what: String) throws(StoreError) -> StoredFooter {
        let size = try FileIO.fileSize(fd, what: what)
        guard size >= StoredFooter.trailerLength else { throw .checksumMismatch("\(what) footer (file too short)") }
        let trailer = try FileIO.preadAll(fd, count: StoredFooter.trailerLength, at: size - StoredFooter.trailerLength,
                                          what: what)
        guard let (dataLength, _, blockCount) = StoredFooter.parseTrailer(trailer, fileSize: size) else {
            throw .checksumMismatch("\(what) footer")
        }
        let table = try FileIO.preadAll(fd, count: blockCount * 8, at: Int(dataLength), what: what)
        guard let footer = StoredFooter.decode(table: table, trailer: trailer, fileSize: size) else {
            throw .checksumMismatch("\(what) footer")
        }
        return footer
    }

    /// Reads block `index` into `buffer` (exactly `footer.length(ofBlock:)` bytes) and checks its CRC.
    public func readBlock(_ index: Int, into buffer: UnsafeMutableRawBufferPointer) throws(StoreError) {
        precondition(index >= 0 && index < blockCount && buffer.count == footer.length(ofBlock: index),
                     "block index or buffer size out of range")
        if !(try readDirectly(index, into: buffer)) {
            try FileIO.preadAll(fd, buffer, at: index * footer.blockSize, what: what)
        }
        guard BlockCRC.crc64(UnsafeRawBufferPointer(buffer)) == footer.blockCRCs[index] else {
            throw .checksumMismatch("\(what) block \(index)")
        }
    }

    /// Reads block `index` into `buffer` through the O_DIRECT descriptor and an aligned buffer, the part the file
    /// system did not give that way through the page cache; false (nothing read) when not reading directly or no
    /// aligned buffer is free.
    private func readDirectly(_ index: Int, into buffer: UnsafeMutableRawBufferPointer) throws(StoreError) -> Bool {
        guard let direct, !directRefused.withLock({ $0 }), let landing = direct.buffers.takeBuffer() else { return false }
        defer { direct.buffers.give(landing) }
        let start = index * footer.blockSize
        let span = UnsafeMutableRawBufferPointer(rebasing: landing[0..<DirectTransfer.roundedUp(buffer.count)])
        let (count, refused) = try direct.read(directFD, into: span, minimum: buffer.count, at: start, what: what)
        if refused { directRefused.withLock { $0 = true } }
        let got = min(count, buffer.count)
        if got > 0, let target = buffer.baseAddress, let source = landing.baseAddress {
            target.copyMemory(from: source, byteCount: got)
        }
        if got < buffer.count {
            try FileIO.preadAll(fd, UnsafeMutableRawBufferPointer(rebasing: buffer[got...]), at: start + got, what: what)
        }
        return true
    }

    /// Every data byte, verified (for small files: manifests, keyslots).
    public func readAll() throws(StoreError) -> [UInt8] {
        let raw = UnsafeMutableRawBufferPointer.allocate(byteCount: Int(length), alignment: 16)
        defer { raw.deallocate() }
        for index in 0..<blockCount {
            let start = index * footer.blockSize
            try readBlock(index, into: UnsafeMutableRawBufferPointer(rebasing: raw[start..<(start + footer.length(ofBlock: index))]))
        }
        return Array(raw)
    }

    /// Reads and checks every block with one reusable buffer; throws at the first mismatch.
    public func verifyAll() throws(StoreError) {
        guard blockCount > 0 else { return }
        let buffer = UnsafeMutableRawBufferPointer.allocate(byteCount: footer.blockSize, alignment: 16)
        defer { buffer.deallocate() }
        for index in 0..<blockCount {
            try readBlock(index, into: UnsafeMutableRawBufferPointer(rebasing: buffer[0..<footer.length(ofBlock: index)]))
        }
    }
}
