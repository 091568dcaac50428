import CISAL

/// CRC-64/XZ (ECMA-182 polynomial, reflected) through ISA-L: the keyless per-block checksum of stored bytes.
public enum BlockCRC {
    /// The CRC of `bytes`, continuing from `crc` (0 to start).
    public static func crc64(_ bytes: UnsafeRawBufferPointer, continuing crc: UInt64 = 0) -> UInt64 {
        guard let base = bytes.baseAddress, bytes.count > 0 else { return crc }
        return crc64_ecma_refl(crc, base.assumingMemoryBound(to: UInt8.self), UInt64(bytes.count))
    }

    public static func crc64(_ bytes: [UInt8], continuing crc: UInt64 = 0) -> UInt64 {
        bytes.withUnsafeBytes { crc64($0, continuing: crc) }
    }
}

/// The checksum footer every stored file ends with (docs/STORAGE.md):
/// data ‖ table of u64 block CRCs ‖ 32-byte trailer (magic, data length, block size, block count, CRC of
/// table ‖ trailer prefix). All integers big-endian.
public struct StoredFooter: Equatable, Sendable {
    public static let magic: [UInt8] = Array("EDFSBLK1".utf8)
    public static let trailerLength = 32
    /// Block sizes a footer may declare.
    public static let blockSizeRange = 4096...(64 << 20)

    public var dataLength: UInt64
    public var blockSize: Int
    /// CRC-64 of each block of `blockSize` data bytes (the last one may be shorter).
    public var blockCRCs: [UInt64]

    public init(dataLength: UInt64, blockSize: Int, blockCRCs: [UInt64]) {
        self.dataLength = dataLength
        self.blockSize = blockSize
        self.blockCRCs = blockCRCs
    }

    /// Blocks a data length needs.
    public static func blockCount(dataLength: UInt64, blockSize: Int) -> Int {
        Int((dataLength + UInt64(blockSize) - 1) / UInt64(blockSize))
    }

    /// Bytes of table and trailer after the data.
    public var encodedLength: Int { blockCRCs.count * 8 + Self.trailerLength }

    /// Total file size of a stored file with this footer.
    public var fileSize: Int { Int(dataLength) + encodedLength }

    /// Data bytes in block `index`.
    public func length(ofBlock index: Int) -> Int {
        let start = UInt64(index) * UInt64(blockSize)
        return Int(min(UInt64(blockSize), dataLength - start))
    }

    /// Table ‖ trailer.
    public func encoded() -> [UInt8] {
        var out: [UInt8] = []
        out.reserveCapacity(encodedLength)
        for crc in blockCRCs { append(crc, to: &out) }
        out.append(contentsOf: Self.magic)
        append(dataLength, to: &out)
        append(UInt32(blockSize), to: &out)
        append(UInt32(blockCRCs.count), to: &out)
        let check = BlockCRC.crc64(out)
        append(check, to: &out)
        return out
    }

    /// Parses a trailer (the file's last 32 bytes). Returns the data length, block size and block count it
    /// declares, after checking them against `fileSize`. The table's CRC is checked by `decode(table:trailer:)`.
    public static func parseTrailer(_ trailer: [UInt8], fileSize: Int) -> (dataLength: UInt64, blockSize: Int, blockCount: Int)? {
        guard trailer.count == trailerLength, Array(trailer[0..<8]) == magic else { return nil }
        let dataLength = readU64(trailer, 8)
        let blockSize = Int(readU32(trailer, 16))
        let blockCount = Int(readU32(trailer, 20))
        guard blockSizeRange.contains(blockSize), dataLength <= UInt64(Int.max / 2),
              blockCount == Self.blockCount(dataLength: dataLength, blockSize: blockSize),
              Int(dataLength) + blockCount * 8 + trailerLength == fileSize else { return nil }
        return (dataLength, blockSize, blockCount)
    }

    /// The footer from its table and trailer bytes, or nil when they do not check out.
    public static func decode(table: [UInt8], trailer: [UInt8], fileSize: Int) -> StoredFooter? {
        guard let (dataLength, blockSize, blockCount) = parseTrailer(trailer, fileSize: fileSize),
              table.count == blockCount * 8 else { return nil }
        var check = BlockCRC.crc64(table)
        check = trailer.withUnsafeBytes { BlockCRC.crc64(UnsafeRawBufferPointer(rebasing: $0[0..<24]), continuing: check) }
        guard check == readU64(trailer, 24) else { return nil }
        var crcs: [UInt64] = []
        crcs.reserveCapacity(blockCount)
        for index in 0..<blockCount { crcs.append(readU64(table, index * 8)) }
        return StoredFooter(dataLength: dataLength, blockSize: blockSize, blockCRCs: crcs)
    }

    private func append<T: FixedWidthInteger>(_ value: T, to out: inout [UInt8]) {
        var big = value.bigEndian
        withUnsafeBytes(of: &big) { out.append(contentsOf: $0) }
    }

    private static func readU64(_ bytes: [UInt8], _ offset: Int) -> UInt64 {
        var value: UInt64 = 0
        for i in 0..<8 { value = value << 8 | UInt64(bytes[offset + i]) }
        return value
    }

    private static func readU32(_ bytes: [UInt8], _ offset: Int) -> UInt32 {
        var value: UInt32 = 0
        for i in 0..<4 { value = value << 8 | UInt32(bytes[offset + i]) }
        return value
    }
}
