import EDFSCrypto

/// What only the key holder may read about one file version (the manifest's encrypted body).
public struct ManifestBody: Sendable {
    /// The newest body version: 2 adds the mode and the folder and shared-objects flags, 3 the time the version was
    /// stored, 4 (the layout of 3) a stripe count other than the node count: a single-stripe file (k = 1), 5 (the
    /// layout of 4 and the file's bytes after it) an inline file. A body is written in the lowest version that holds
    /// what it records (one without a stored time, mode or flags beyond "deleted" is version 1, byte for byte what the
    /// first clients wrote; an N-stripe file is never version 4, a file with objects never version 5); every version
    /// reads.
    public static let bodyVersion: UInt8 = 5
    public static let maximumNameBytes = 4096
    /// The most file bytes a body may hold inline (a reader's bound; what a put inlines is `ClusterConfig.inlineLimit`).
    public static let maximumInlineBytes = 65536
    static let deletedFlag: UInt8 = 0x01
    static let folderFlag: UInt8 = 0x02
    static let sharedObjectsFlag: UInt8 = 0x04

    /// The path the user gave the file.
    public var name: String
    /// Plaintext bytes of the whole file.
    public var size: UInt64
    /// Modification time: seconds since 1970 and nanoseconds.
    public var modificationSeconds: Int64
    public var modificationNanoseconds: UInt32
    /// The file version's data key (DEK): 32 random bytes, used for this version only.
    public var dataKey: SymmetricKey
    public var segmentSize: UInt32
    /// N and R at the time of the put: placement is a function of (file id, stripe, N, R).
    public var nodeCount: UInt16
    public var replicas: UInt16
    /// Plaintext length of each stripe; they sum to `size`.
    public var stripeLengths: [UInt64]
    /// Replicas known to be missing at commit time.
    public var missingReplicas: [MissingReplica]
    /// A tombstone: the file was removed while some node was unreachable; this version supersedes the stale copies
    /// such a node still holds. A tombstone has no objects.
    public var isDeleted: Bool
    /// The key epoch in which `dataKey` and the file id were made (a re-encryption makes new ones).
    public var dataKeyEpoch: UInt32
    /// POSIX permission bits of the file or folder (`st_mode & 0o7777`); 0 when not recorded (version-1 bodies).
    public var mode: UInt32
    /// A folder entry (`edfs mkdir`): an empty folder that exists without files in it. Like a tombstone it has no
    /// objects; unlike one it is live.
    public var isFolder: Bool
    /// The file's objects may also belong to another name's manifest (a rename in progress or interrupted), so a
    /// removal leaves them to the nodes' orphan collection instead of deleting them.
    public var sharesObjects: Bool
    /// When this file version was stored: the writing client's clock at the put, seconds since 1970; 0 when not
    /// recorded (bodies of versions 1 and 2). A rename or a key rotation keeps it.
    public var storedSeconds: Int64
    /// An inline file (body version 5): the whole file's bytes are in the body instead of in stripe objects, so the
    /// version has no objects.
    public private(set) var isInline: Bool
    /// An inline file's bytes; nil for every other version, and for an inline body whose bytes were left out
    /// (`withoutInlineData()`, what a listing keeps).
    public private(set) var inlineData: SecureBytes?

    public init(name: String, size: UInt64, modificationSeconds: Int64, modificationNanoseconds: UInt32,
                dataKey: SymmetricKey, segmentSize: UInt32, nodeCount: UInt16, replicas: UInt16,
                stripeLengths: [UInt64], missingReplicas: [MissingReplica], isDeleted: Bool = false,
                dataKeyEpoch: UInt32 = 0, mode: UInt32 = 0, isFolder: Bool = false, sharesObjects: Bool = false,
                storedSeconds: Int64 = 0, inlineData: SecureBytes? = nil) {
        self.storedSeconds = storedSeconds
        self.inlineData = inlineData
        isInline = inlineData != nil
        self.mode = mode
        self.isFolder = isFolder
        self.sharesObjects = sharesObjects
        self.isDeleted = isDeleted
        self.dataKeyEpoch = dataKeyEpoch
        self.name = name
        self.size = size
        self.modificationSeconds = modificationSeconds
        self.modificationNanoseconds = modificationNanoseconds
        self.dataKey = dataKey
        self.segmentSize = segmentSize
        self.nodeCount = nodeCount
        self.replicas = replicas
        self.stripeLengths = stripeLengths
        self.missingReplicas = missingReplicas
    }

    /// True for a version with stripe objects: neither a tombstone, a folder entry nor an inline file.
    public var hasObjects: Bool { !isDeleted && !isFolder && !isInline }

    /// This body without an inline file's bytes (still `isInline`): what a listing of many files keeps, so its memory
    /// does not grow with their bytes. It cannot be encoded again.
    public func withoutInlineData() -> ManifestBody {
        var copy = self
        copy.inlineData = nil
        return copy
    }

    /// An inline file body for a file of `data.count` bytes (k = 1, no missing replicas; `storedSeconds` ≠ 0).
    public static func inline(name: String, data: SecureBytes, modificationSeconds: Int64,
                              modificationNanoseconds: UInt32, dataKey: SymmetricKey, segmentSize: UInt32,
                              nodeCount: UInt16, replicas: UInt16, dataKeyEpoch: UInt32, mode: UInt32,
                              storedSeconds: Int64) -> ManifestBody {
        ManifestBody(name: name, size: UInt64(data.count), modificationSeconds: modificationSeconds,
                     modificationNanoseconds: modificationNanoseconds, dataKey: dataKey, segmentSize: segmentSize,
                     nodeCount: nodeCount, replicas: replicas, stripeLengths: [UInt64(data.count)], missingReplicas: [],
                     dataKeyEpoch: dataKeyEpoch, mode: mode, storedSeconds: storedSeconds, inlineData: data)
    }

    /// k, the number of stripes this version is cut into: N (`nodeCount`), or 1 for a single-stripe file (a body of
    /// version 4). Readers use this, never the node count.
    public var stripeCount: Int { stripeLengths.count }

    /// The header of stripe `index` as the objects of this version must carry it.
    public func stripeHeader(index: Int, fileID: FileID) throws -> StripeHeader {
        guard stripeLengths.indices.contains(index) else { throw FormatError.invalidField("stripe index", "out of range") }
        return try StripeHeader(fileID: fileID, stripeIndex: UInt32(index), stripeCount: UInt32(stripeLengths.count),
                                segmentSize: segmentSize, plaintextLength: stripeLengths[index])
    }

    /// Serialises the body into wiped memory (it holds the data key).
    func encoded() throws -> SecureBytes {
        let nameBytes = Array(name.utf8)
        guard nameBytes.count <= Self.maximumNameBytes else {
            throw FormatError.invalidField("file name", "is longer than \(Self.maximumNameBytes) bytes")
        }
        try validate()
        // Exact capacity: the buffer never reallocates, so no stray copy of the data key is left in freed memory.
        guard !isInline || inlineData != nil else {
            throw FormatError.invalidField("manifest inline data", "was left out of this copy of the body")
        }
        let inlineCount = inlineData.map { 4 + $0.count } ?? 0
        var writer = BigEndianWriter<FormatError>(capacity: 88 + nameBytes.count + stripeLengths.count * 8
                                                  + missingReplicas.count * 6 + inlineCount)
        let flags = (isDeleted ? Self.deletedFlag : 0) | (isFolder ? Self.folderFlag : 0)
            | (sharesObjects ? Self.sharedObjectsFlag : 0)
        let version: UInt8
        if inlineData != nil {
            // Only version 5 holds file bytes; it has version 3's stored time, never zero.
            guard storedSeconds != 0 else {
                throw FormatError.invalidField("manifest stored time", "is needed by an inline body")
            }
            version = 5
        } else if stripeLengths.count != Int(nodeCount) {
            // Only version 4 records a stripe count other than N; it has version 3's stored time, never zero.
            guard storedSeconds != 0 else {
                throw FormatError.invalidField("manifest stored time", "is needed by a single-stripe body")
            }
            version = 4
        } else {
            version = storedSeconds != 0 ? 3 : mode == 0 && flags & ~Self.deletedFlag == 0 ? 1 : 2
        }
        writer.u8(version)
        writer.u8(flags)
        writer.u32(dataKeyEpoch)
        try writer.str16(name, field: "file name")
        writer.u64(size)
        writer.i64(modificationSeconds)
        writer.u32(modificationNanoseconds)
        if version >= 2 { writer.u32(mode) }
        if version >= 3 { writer.i64(storedSeconds) }
        dataKey.withUnsafeBytes { writer.raw($0) }
        writer.u32(segmentSize)
        writer.u16(nodeCount)
        writer.u16(replicas)
        writer.u32(UInt32(stripeLengths.count))
        for length in stripeLengths { writer.u64(length) }
        writer.u32(UInt32(missingReplicas.count))
        for missing in missingReplicas {
            writer.u32(missing.stripe)
            writer.u16(missing.node)
        }
        if let inlineData {
            writer.u32(UInt32(inlineData.count))
            inlineData.withUnsafeBytes { writer.raw($0) }
        }
        defer { writer.wipe() }
        return SecureBytes(copying: writer.bytes)
    }

    static func decode(_ plain: SecureBytes) throws -> ManifestBody {
        var copy = plain.withUnsafeBytes { Array($0) }
        // Parsed in a separate function: its reader (which shares `copy`) is gone before the wipe, so the wipe
        // overwrites the one buffer in place instead of a copy-on-write duplicate.
        defer { secureWipe(&copy) }
        return try parse(copy)
    }

    private static func parse(_ copy: [UInt8]) throws -> ManifestBody {
        var reader = BigEndianReader<FormatError>(copy, context: "manifest body")
        let version = try reader.u8()
        guard (1...bodyVersion).contains(version) else { throw FormatError.unsupportedVersion("manifest body", version) }
        let flags = try reader.u8()
        let known = version == 1 ? deletedFlag : deletedFlag | folderFlag | sharedObjectsFlag
        guard flags & ~known == 0 else { throw FormatError.invalidField("manifest flags", "has unknown bits") }
        let dataKeyEpoch = try reader.u32()
        let name = try reader.str16(maxBytes: maximumNameBytes, field: "file name")
        let size = try reader.u64()
        let seconds = try reader.i64()
        let nanos = try reader.u32()
        let mode = version >= 2 ? try reader.u32() : 0
        let storedSeconds = version >= 3 ? try reader.i64() : 0
        // One encoding per body: a version-3 or -4 body always records a time (without one it is written as 1 or 2).
        guard version < 3 || storedSeconds != 0 else {
            throw FormatError.invalidField("manifest stored time", "is zero in a version-\(version) body")
        }
        var keyBytes = try reader.raw(SymmetricKey.byteCount)
        defer { secureWipe(&keyBytes) }
        let dataKey = try SymmetricKey(copying: keyBytes)
        let segmentSize = try reader.u32()
        let nodeCount = try reader.u16()
        let replicas = try reader.u16()
        let stripeCount = try reader.u32()
        guard stripeCount >= 1, stripeCount <= StripeHeader.maximumStripeCount else {
            throw FormatError.invalidField("manifest stripe count", "is out of range")
        }
        var lengths = [UInt64]()
        lengths.reserveCapacity(Int(stripeCount))
        for _ in 0..<stripeCount { lengths.append(try reader.u64()) }
        // k = N in every version; k = 1 (a single-stripe file) only from version 4 on.
        guard stripeCount == UInt32(nodeCount) || (version >= 4 && stripeCount == 1) else {
            throw FormatError.invalidField("manifest stripe count",
                                           version >= 4 ? "must be 1 or the node count" : "must equal the node count")
        }
        let missingCount = try reader.u32()
        guard missingCount <= stripeCount * UInt32(max(replicas, 1)) else {
            throw FormatError.invalidField("manifest missing-replica count", "is out of range")
        }
        var missing = [MissingReplica]()
        for _ in 0..<missingCount { missing.append(MissingReplica(stripe: try reader.u32(), node: try reader.u16())) }
        var inlineData: SecureBytes?
        if version >= 5 {
            let count = try reader.u32()
            guard count <= maximumInlineBytes else {
                throw FormatError.invalidField("manifest inline data", "is longer than \(maximumInlineBytes) bytes")
            }
            var bytes = try reader.raw(Int(count))
            defer { secureWipe(&bytes) }
            inlineData = SecureBytes(copying: bytes)
        }
        try reader.expectEnd()
        let body = ManifestBody(name: name, size: size, modificationSeconds: seconds, modificationNanoseconds: nanos,
                                dataKey: dataKey, segmentSize: segmentSize, nodeCount: nodeCount, replicas: replicas,
                                stripeLengths: lengths, missingReplicas: missing, isDeleted: flags & deletedFlag != 0,
                                dataKeyEpoch: dataKeyEpoch, mode: mode, isFolder: flags & folderFlag != 0,
                                sharesObjects: flags & sharedObjectsFlag != 0, storedSeconds: storedSeconds,
                                inlineData: inlineData)
        try body.validate()
        return body
    }

    private func validate() throws {
        guard nodeCount >= 1, replicas >= 1, replicas <= nodeCount else {
            throw FormatError.invalidField("manifest placement", "needs 1 ≤ replicas ≤ nodes")
        }
        guard stripeLengths.count == Int(nodeCount) || stripeLengths.count == 1 else {
            throw FormatError.invalidField("manifest stripe count", "must be 1 or the node count")
        }
        guard segmentSize >= 1, Int(segmentSize) <= SegmentScheme.maximumSegmentSize else {
            throw FormatError.invalidField("manifest segment size", "is out of range")
        }
        var total: UInt64 = 0
        for length in stripeLengths {
            let (sum, overflow) = total.addingReportingOverflow(length)
            guard !overflow else { throw FormatError.invalidField("manifest stripe lengths", "overflow") }
            total = sum
        }
        guard total == size else { throw FormatError.invalidField("manifest stripe lengths", "do not add up to the size") }
        guard mode & ~0o7777 == 0 else { throw FormatError.invalidField("manifest mode", "has bits beyond 0o7777") }
        if isFolder {
            guard !isDeleted, size == 0 else {
                throw FormatError.invalidField("manifest flags", "a folder entry is live and empty")
            }
        }
        guard missingReplicas.allSatisfy({ Int($0.stripe) < stripeLengths.count && $0.node < nodeCount }) else {
            throw FormatError.invalidField("manifest missing replicas", "name a stripe or node out of range")
        }
        if let inlineData {
            // An inline file is live, one stripe of exactly its bytes, and has no replicas to miss.
            guard !isDeleted, !isFolder else {
                throw FormatError.invalidField("manifest flags", "an inline file is live and not a folder")
            }
            guard stripeLengths.count == 1, UInt64(inlineData.count) == size, inlineData.count <= Self.maximumInlineBytes,
                  missingReplicas.isEmpty else {
                throw FormatError.invalidField("manifest inline data", "must be the whole file, in one stripe")
            }
        }
    }
}
