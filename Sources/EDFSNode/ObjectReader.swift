#if canImport(Glibc)
import Glibc
#elseif canImport(Darwin)
import Darwin
#endif

/// One stored file opened for reading: its footer is read and checked on open, and every block is checked
/// against its CRC before any of its bytes are handed out. Blocking: call from a thread pool.
public final class ObjectReader: Sendable {
    private let fd: Int32
    private let what: String
    public let footer: StoredFooter

    /// The data length (without the footer).
    public var length: UInt64 { footer.dataLength }
    public var blockSize: Int { footer.blockSize }
    public var blockCount: Int { footer.blockCRCs.count }

    /// Opens `path`. Missing: `notFound(what)`. Footer unreadable or inconsistent: `checksumMismatch`.
    convenience init(path: String, what: String) throws(StoreError) {
        try self.init(descriptor: FileIO.openFile(path, O_RDONLY, what: what), what: what)
    }

    /// Reads the footer of the file open on `fd`, which the reader owns from here on (closed on failure too).
    init(descriptor fd: Int32, what: String) throws(StoreError) {
        do throws(StoreError) {
            footer = try Self.readFooter(fd, what: what)
        } catch {
            close(fd)
            throw error
        }
        self.fd = fd
        self.what = what
    }

    deinit { close(fd) }

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
        try FileIO.preadAll(fd, buffer, at: index * footer.blockSize, what: what)
        guard BlockCRC.crc64(UnsafeRawBufferPointer(buffer)) == footer.blockCRCs[index] else {
            throw .checksumMismatch("\(what) block \(index)")
        }
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
