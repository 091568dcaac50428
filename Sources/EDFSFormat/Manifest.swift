import EDFSCrypto

/// The 16 bytes that name a file's manifest on the nodes: HMAC-SHA256(nameKey, "edfs-name-v1" ‖ 0 ‖ path),
/// truncated. Without the name key a node cannot tell which path it stands for.
public struct ManifestID: Hashable, Sendable, CustomStringConvertible {
    public static let byteCount = 16
    public let bytes: [UInt8]

    public init(bytes: [UInt8]) throws {
        guard bytes.count == Self.byteCount else { throw FormatError.invalidField("manifest id", "must be 16 bytes") }
        self.bytes = bytes
    }

    public init(hex: String) throws {
        guard let bytes = Hex.decode(hex), bytes.count == Self.byteCount else {
            throw FormatError.invalidField("manifest id", "must be 32 hex digits")
        }
        self.bytes = bytes
    }

    /// The id of `path` under `nameKey`.
    public static func derive(path: String, nameKey: SymmetricKey) -> ManifestID {
        var message = Array("edfs-name-v1".utf8)
        message.append(0)
        message.append(contentsOf: path.utf8)
        let mac = Digest.hmacSHA256(key: nameKey, message)
        // 16 bytes of a 32-byte MAC: exactly byteCount, so the throwing init cannot fail here.
        return ManifestID(validated: Array(mac[0..<byteCount]))
    }

    private init(validated bytes: [UInt8]) { self.bytes = bytes }

    /// 32 lowercase hex digits: the manifest's name on a node.
    public var hex: String { Hex.encode(bytes) }
    public var description: String { hex }
}

/// The cleartext header of a manifest (docs/FORMAT.md §3): everything a node may know, authenticated as the
/// AAD of the encrypted body. Nodes read it to refuse stale versions and to tell live objects from orphans.
public struct ManifestHeader: Equatable, Sendable {
    public static let magic: [UInt8] = Array("EDSM".utf8)
    public static let formatVersion: UInt8 = 1
    public static let byteCount = 56
    /// Largest sealed body accepted (a name of 4 KiB and 4096 stripes fit with room to spare).
    public static let maximumBodyLength: UInt32 = 256 * 1024

    public var manifestID: ManifestID
    /// Grows with every put of the same path; a node refuses a manifest not newer than the one it holds.
    public var version: UInt64
    public var fileID: FileID
    /// The key epoch whose master key sealed the body.
    public var keyEpoch: UInt32
    /// Bytes of the sealed body that follows the header (nonce ‖ ciphertext ‖ tag).
    public var sealedBodyLength: UInt32

    public init(manifestID: ManifestID, version: UInt64, fileID: FileID, keyEpoch: UInt32, sealedBodyLength: UInt32) {
        self.manifestID = manifestID
        self.version = version
        self.fileID = fileID
        self.keyEpoch = keyEpoch
        self.sealedBodyLength = sealedBodyLength
    }

    public func encoded() -> [UInt8] {
        var writer = BinaryWriter(capacity: Self.byteCount)
        writer.raw(Self.magic)
        writer.u8(Self.formatVersion)
        writer.zeros(3)
        writer.raw(manifestID.bytes)
        writer.u64(version)
        writer.raw(fileID.bytes)
        writer.u32(keyEpoch)
        writer.u32(sealedBodyLength)
        return writer.bytes
    }

    /// Decodes the header from the first 56 bytes of `bytes` (the sealed body may follow).
    public static func decode(prefixOf bytes: [UInt8]) throws -> ManifestHeader {
        guard bytes.count >= byteCount else { throw FormatError.truncated("manifest header") }
        var reader = BinaryReader(Array(bytes[0..<byteCount]), context: "manifest header")
        guard try reader.raw(4) == magic else { throw FormatError.badMagic("manifest") }
        let version = try reader.u8()
        guard version == formatVersion else { throw FormatError.unsupportedVersion("manifest", version) }
        try reader.reserved(3)
        let header = try ManifestHeader(manifestID: ManifestID(bytes: reader.raw(ManifestID.byteCount)),
                                        version: reader.u64(), fileID: FileID(bytes: reader.raw(FileID.byteCount)),
                                        keyEpoch: reader.u32(), sealedBodyLength: reader.u32())
        guard header.sealedBodyLength >= UInt32(AESGCM.nonceByteCount + AESGCM.tagByteCount),
              header.sealedBodyLength <= maximumBodyLength else {
            throw FormatError.invalidField("manifest body length", "is outside the allowed range")
        }
        return header
    }

    /// Total bytes of the manifest this header starts.
    public var manifestLength: Int { Self.byteCount + Int(sealedBodyLength) }
}

/// A stripe replica the writer could not place when it committed the manifest, for repair to finish.
public struct MissingReplica: Equatable, Hashable, Sendable {
    public var stripe: UInt32
    public var node: UInt16
    public init(stripe: UInt32, node: UInt16) {
        self.stripe = stripe
        self.node = node
    }
}

/// What only the key holder may read about one file version (the manifest's encrypted body).
public struct ManifestBody: Sendable {
    public static let bodyVersion: UInt8 = 1
    public static let maximumNameBytes = 4096
    static let deletedFlag: UInt8 = 0x01

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

    public init(name: String, size: UInt64, modificationSeconds: Int64, modificationNanoseconds: UInt32,
                dataKey: SymmetricKey, segmentSize: UInt32, nodeCount: UInt16, replicas: UInt16,
                stripeLengths: [UInt64], missingReplicas: [MissingReplica], isDeleted: Bool = false,
                dataKeyEpoch: UInt32 = 0) {
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
        var writer = BinaryWriter(capacity: 76 + nameBytes.count + stripeLengths.count * 8 + missingReplicas.count * 6)
        writer.u8(Self.bodyVersion)
        writer.u8(isDeleted ? Self.deletedFlag : 0)
        writer.u32(dataKeyEpoch)
        writer.string16(name)
        writer.u64(size)
        writer.i64(modificationSeconds)
        writer.u32(modificationNanoseconds)
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
        var reader = BinaryReader(copy, context: "manifest body")
        let version = try reader.u8()
        guard version == bodyVersion else { throw FormatError.unsupportedVersion("manifest body", version) }
        let flags = try reader.u8()
        guard flags & ~deletedFlag == 0 else { throw FormatError.invalidField("manifest flags", "has unknown bits") }
        let dataKeyEpoch = try reader.u32()
        let name = try reader.string16(maxBytes: maximumNameBytes, field: "file name")
        let size = try reader.u64()
        let seconds = try reader.i64()
        let nanos = try reader.u32()
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
        let missingCount = try reader.u32()
        guard missingCount <= stripeCount * UInt32(max(replicas, 1)) else {
            throw FormatError.invalidField("manifest missing-replica count", "is out of range")
        }
        var missing = [MissingReplica]()
        for _ in 0..<missingCount { missing.append(MissingReplica(stripe: try reader.u32(), node: try reader.u16())) }
        try reader.expectEnd()
        let body = ManifestBody(name: name, size: size, modificationSeconds: seconds, modificationNanoseconds: nanos,
                                dataKey: dataKey, segmentSize: segmentSize, nodeCount: nodeCount, replicas: replicas,
                                stripeLengths: lengths, missingReplicas: missing, isDeleted: flags & deletedFlag != 0,
                                dataKeyEpoch: dataKeyEpoch)
        try body.validate()
        return body
    }

    private func validate() throws {
        guard nodeCount >= 1, replicas >= 1, replicas <= nodeCount else {
            throw FormatError.invalidField("manifest placement", "needs 1 ≤ replicas ≤ nodes")
        }
        guard stripeLengths.count == Int(nodeCount) else {
            throw FormatError.invalidField("manifest stripe count", "must equal the node count")
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
        guard missingReplicas.allSatisfy({ Int($0.stripe) < stripeLengths.count && $0.node < nodeCount }) else {
            throw FormatError.invalidField("manifest missing replicas", "name a stripe or node out of range")
        }
    }
}

/// A manifest: cleartext header ‖ nonce ‖ AES-256-GCM(masterKey, body, AAD = header) ‖ tag.
public enum Manifest {
    /// Seals `body` under `masterKey`; `sealedBodyLength` in the header is filled in here.
    public static func seal(manifestID: ManifestID, version: UInt64, fileID: FileID, keyEpoch: UInt32,
                            body: ManifestBody, masterKey: SymmetricKey) throws -> [UInt8] {
        let plain = try body.encoded()
        let sealedLength = plain.count + AESGCM.nonceByteCount + AESGCM.tagByteCount
        guard sealedLength <= Int(ManifestHeader.maximumBodyLength) else {
            throw FormatError.invalidField("manifest body", "is too large")
        }
        let header = ManifestHeader(manifestID: manifestID, version: version, fileID: fileID, keyEpoch: keyEpoch,
                                    sealedBodyLength: UInt32(sealedLength))
        let headerBytes = header.encoded()
        let box = try plain.withUnsafeBytes { plainBytes in
            try headerBytes.withUnsafeBytes { aad in try AESGCM.sealBox(plainBytes, key: masterKey, aad: aad) }
        }
        return headerBytes + box
    }

    /// Opens a stored manifest. A wrong key or any changed byte throws `FormatError.authenticationFailed`.
    public static func open(_ bytes: [UInt8], masterKey: SymmetricKey) throws -> (header: ManifestHeader, body: ManifestBody) {
        let header = try ManifestHeader.decode(prefixOf: bytes)
        guard bytes.count == header.manifestLength else {
            throw bytes.count < header.manifestLength ? FormatError.truncated("manifest") : FormatError.trailingBytes("manifest")
        }
        let plain: SecureBytes
        do {
            plain = try bytes.withUnsafeBytes { all in
                try AESGCM.openBox(UnsafeRawBufferPointer(rebasing: all[ManifestHeader.byteCount...]), key: masterKey,
                                   aad: UnsafeRawBufferPointer(rebasing: all[0..<ManifestHeader.byteCount]))
            }
        } catch CryptoError.authenticationFailed {
            throw FormatError.authenticationFailed("manifest")
        }
        let body = try ManifestBody.decode(plain)
        return (header, body)
    }
}
