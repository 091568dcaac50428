import EDFSCrypto
@testable import EDFSFormat
import Foundation

/// The fixed inputs of the golden vectors and how every file in Vectors/ is made from them (Vectors/README.md).
/// Good files are encoded from the inputs; each fail file is one documented defect applied to a good file.
enum GoldenVectors {
    // MARK: Fixed inputs

    /// The stripe's data key: bytes 0x00…0x1f.
    static let dataKeyBytes = counting(from: 0x00, count: 32)
    /// The epoch-5 bundle (newest): masterKey 0x20…0x3f, nameKey 0x40…0x5f.
    static let masterKey5Bytes = counting(from: 0x20, count: 32)
    static let nameKey5Bytes = counting(from: 0x40, count: 32)
    /// The epoch-4 bundle (the one a rotation is leaving): masterKey 0x60…0x7f, nameKey 0x80…0x9f.
    static let masterKey4Bytes = counting(from: 0x60, count: 32)
    static let nameKey4Bytes = counting(from: 0x80, count: 32)
    /// The tombstone's (unused) data key: bytes 0xc0…0xdf.
    static let tombstoneDataKeyBytes = counting(from: 0xc0, count: 32)

    static let fileIDHex = "00112233445566778899aabbccddeeff"
    static let tombstoneFileIDHex = "ffeeddccbbaa99887766554433221100"
    static let manifestIDHex = "0f1e2d3c4b5a69788796a5b4c3d2e1f0"
    static let manifestNonce = counting(from: 0xa0, count: 12)
    static let tombstoneNonce = counting(from: 0xb0, count: 12)
    static let manifestV2Nonce = counting(from: 0x90, count: 12)
    static let folderNonce = counting(from: 0xf0, count: 12)
    static let manifestV3Nonce = counting(from: 0x80, count: 12)
    static let manifestV4Nonce = counting(from: 0x70, count: 12)
    static let manifestV5Nonce = counting(from: 0x60, count: 12)
    /// The stored time of the body-version-3 vector: 1,700,000,100 s.
    static let storedSeconds: Int64 = 1_700_000_100
    static let folderFileIDHex = "0123456789abcdeffedcba9876543210"

    static let stripePlaintext = Array("edfs golden vector: stripe 1 of 3, 40 B.".utf8)
    static let fileName = "golden/report.txt"

    static let user = "alice"
    static let otherUser = "bob"
    static let password = "correct horse battery staple"
    static let salt = counting(from: 0xc0, count: 16)
    /// Low on purpose, so a test derives the KEK in microseconds; unlocked with `minimumIterations: 1000`.
    static let iterations: UInt32 = 1000
    static let keyslotNonces = [counting(from: 0xd0, count: 12), counting(from: 0xe0, count: 12)]

    // MARK: Values made from the inputs

    static func key(_ bytes: [UInt8]) throws -> SymmetricKey { try SymmetricKey(copying: bytes) }

    static func passwordBytes(_ text: String = password) -> SecureBytes { SecureBytes(copying: Array(text.utf8)) }

    static func stripeHeader() throws -> StripeHeader {
        try StripeHeader(fileID: FileID(hex: fileIDHex), stripeIndex: 1, stripeCount: 3, segmentSize: 16,
                         plaintextLength: 40)
    }

    static func manifestBody() throws -> ManifestBody {
        ManifestBody(name: fileName, size: 100, modificationSeconds: 1_700_000_000, modificationNanoseconds: 123_456_789,
                     dataKey: try key(dataKeyBytes), segmentSize: 16, nodeCount: 3, replicas: 2,
                     stripeLengths: [40, 40, 20],
                     missingReplicas: [MissingReplica(stripe: 1, node: 2), MissingReplica(stripe: 2, node: 0)],
                     isDeleted: false, dataKeyEpoch: 4)
    }

    static func tombstoneBody() throws -> ManifestBody {
        ManifestBody(name: fileName, size: 0, modificationSeconds: 0, modificationNanoseconds: 0,
                     dataKey: try key(tombstoneDataKeyBytes), segmentSize: 16, nodeCount: 3, replicas: 2,
                     stripeLengths: [0, 0, 0], missingReplicas: [], isDeleted: true, dataKeyEpoch: 5)
    }

    /// Body version 2: `manifestBody()` with mode 0o640 and the shared-objects flag (a rename in progress).
    static func manifestV2Body() throws -> ManifestBody {
        var body = try manifestBody()
        body.mode = 0o640
        body.sharesObjects = true
        return body
    }

    /// Body version 3: `manifestV2Body()` with the stored time 1,700,000,100 s.
    static func manifestV3Body() throws -> ManifestBody {
        var body = try manifestV2Body()
        body.storedSeconds = storedSeconds
        return body
    }

    /// Body version 4: a single-stripe file (k = 1 of N = 3): name, mtime, DEK, S, N, R and data key epoch of
    /// `manifestBody()`, size 40 in one stripe of 40, mode 0o640, the stored time, missing replica (stripe 0, node 2).
    static func manifestV4Body() throws -> ManifestBody {
        ManifestBody(name: fileName, size: 40, modificationSeconds: 1_700_000_000, modificationNanoseconds: 123_456_789,
                     dataKey: try key(dataKeyBytes), segmentSize: 16, nodeCount: 3, replicas: 2, stripeLengths: [40],
                     missingReplicas: [MissingReplica(stripe: 0, node: 2)], dataKeyEpoch: 4, mode: 0o640,
                     storedSeconds: storedSeconds)
    }

    /// Body version 5: an inline file, `stripePlaintext` (40 B) held in the body: name, mtime, DEK, S, N, R and data
    /// key epoch of `manifestBody()`, mode 0o640, the stored time, k = 1 with length 40, no missing replicas.
    static func manifestV5Body() throws -> ManifestBody {
        ManifestBody.inline(name: fileName, data: SecureBytes(copying: stripePlaintext), modificationSeconds: 1_700_000_000,
                            modificationNanoseconds: 123_456_789, dataKey: try key(dataKeyBytes), segmentSize: 16,
                            nodeCount: 3, replicas: 2, dataKeyEpoch: 4, mode: 0o640, storedSeconds: storedSeconds)
    }

    /// A folder entry (body version 2): name `golden`, mode 0o755, mtime 1,700,000,000 s, DEK 0xc0…0xdf, no stripes.
    static func folderBody() throws -> ManifestBody {
        ManifestBody(name: "golden", size: 0, modificationSeconds: 1_700_000_000, modificationNanoseconds: 0,
                     dataKey: try key(tombstoneDataKeyBytes), segmentSize: 16, nodeCount: 3, replicas: 2,
                     stripeLengths: [0, 0, 0], missingReplicas: [], dataKeyEpoch: 5, mode: 0o755, isFolder: true)
    }

    static func bundles() throws -> [KeyBundle] {
        [try KeyBundle(epoch: 5, masterKey: key(masterKey5Bytes), nameKey: key(nameKey5Bytes)),
         try KeyBundle(epoch: 4, masterKey: key(masterKey4Bytes), nameKey: key(nameKey4Bytes))]
    }

    // MARK: Good files

    static func goodStripeObject() throws -> [UInt8] {
        let header = try stripeHeader()
        let sealer = try StripeSealer(header: header, dataKey: key(dataKeyBytes), workers: 1)
        var sealed = [UInt8](repeating: 0, count: sealer.sealedLength(ofBatch: stripePlaintext.count))
        try stripePlaintext.withUnsafeBytes { plain in
            try sealed.withUnsafeMutableBytes { try sealer.seal(plain, into: $0) }
        }
        return sealer.headerBytes + sealed
    }

    static func goodManifest() throws -> [UInt8] {
        try Manifest.seal(manifestID: ManifestID(hex: manifestIDHex), version: 7, fileID: FileID(hex: fileIDHex),
                          keyEpoch: 5, body: manifestBody(), masterKey: key(masterKey5Bytes), nonce: manifestNonce)
    }

    static func goodTombstone() throws -> [UInt8] {
        try Manifest.seal(manifestID: ManifestID(hex: manifestIDHex), version: 8, fileID: FileID(hex: tombstoneFileIDHex),
                          keyEpoch: 5, body: tombstoneBody(), masterKey: key(masterKey5Bytes), nonce: tombstoneNonce)
    }

    static func goodManifestV2() throws -> [UInt8] {
        try Manifest.seal(manifestID: ManifestID(hex: manifestIDHex), version: 9, fileID: FileID(hex: fileIDHex),
                          keyEpoch: 5, body: manifestV2Body(), masterKey: key(masterKey5Bytes), nonce: manifestV2Nonce)
    }

    static func goodManifestV3() throws -> [UInt8] {
        try Manifest.seal(manifestID: ManifestID(hex: manifestIDHex), version: 10, fileID: FileID(hex: fileIDHex),
                          keyEpoch: 5, body: manifestV3Body(), masterKey: key(masterKey5Bytes), nonce: manifestV3Nonce)
    }

    static func goodManifestV4() throws -> [UInt8] {
        try Manifest.seal(manifestID: ManifestID(hex: manifestIDHex), version: 11, fileID: FileID(hex: fileIDHex),
                          keyEpoch: 5, body: manifestV4Body(), masterKey: key(masterKey5Bytes), nonce: manifestV4Nonce)
    }

    static func goodManifestV5() throws -> [UInt8] {
        try Manifest.seal(manifestID: ManifestID(hex: manifestIDHex), version: 12, fileID: FileID(hex: fileIDHex),
                          keyEpoch: 5, body: manifestV5Body(), masterKey: key(masterKey5Bytes), nonce: manifestV5Nonce)
    }

    /// A body-version-5 manifest whose body bytes are `edit`ed after encoding and then sealed validly.
    static func manifestV5(editingBody edit: (inout [UInt8]) -> Void) throws -> [UInt8] {
        try sealed(manifestV5Body(), version: 12, fileIDHex: fileIDHex, nonce: manifestV5Nonce, editingBody: edit)
    }

    /// A body-version-4 manifest whose body bytes are `edit`ed after encoding and then sealed validly.
    static func manifestV4(editingBody edit: (inout [UInt8]) -> Void) throws -> [UInt8] {
        try sealed(manifestV4Body(), version: 11, fileIDHex: fileIDHex, nonce: manifestV4Nonce, editingBody: edit)
    }

    /// A body-version-3 manifest whose body bytes are `edit`ed after encoding and then sealed validly.
    static func manifestV3(editingBody edit: (inout [UInt8]) -> Void) throws -> [UInt8] {
        try sealed(manifestV3Body(), version: 10, fileIDHex: fileIDHex, nonce: manifestV3Nonce, editingBody: edit)
    }

    /// `body` encoded, its bytes `edit`ed, then sealed validly under the manifest id and the epoch-5 masterKey, so
    /// only the body rule the edit breaks fails.
    static func sealed(_ body: ManifestBody, version: UInt64, fileIDHex: String, nonce: [UInt8],
                       editingBody edit: (inout [UInt8]) -> Void) throws -> [UInt8] {
        var plain = try body.encoded().withUnsafeBytes { Array($0) }
        edit(&plain)
        return try Manifest.seal(manifestID: ManifestID(hex: manifestIDHex), version: version, fileID: FileID(hex: fileIDHex),
                                 keyEpoch: 5, encodedBody: SecureBytes(copying: plain), masterKey: key(masterKey5Bytes),
                                 nonce: nonce)
    }

    static func goodFolder() throws -> [UInt8] {
        try Manifest.seal(manifestID: ManifestID(hex: manifestIDHex), version: 1, fileID: FileID(hex: folderFileIDHex),
                          keyEpoch: 5, body: folderBody(), masterKey: key(masterKey5Bytes), nonce: folderNonce)
    }

    /// A folder entry whose body bytes are `edit`ed after encoding and then sealed validly.
    static func folder(editingBody edit: (inout [UInt8]) -> Void) throws -> [UInt8] {
        try sealed(folderBody(), version: 1, fileIDHex: folderFileIDHex, nonce: folderNonce, editingBody: edit)
    }

    static func goodKeyslot(user: String = user) throws -> [UInt8] {
        let kdf = try KeyslotKDF(iterations: iterations, salt: salt)
        let kek = try kdf.deriveKEK(password: passwordBytes())
        return try Keyslot.seal(user: user, kek: kek, kdf: kdf, revision: 9, bundles: bundles(), reencrypting: true,
                                nonces: keyslotNonces).bytes
    }

    /// Like `goodKeyslot` but KDF kind 2 (SCRAM-linked): KEK = HMAC(PBKDF2(password, salt, 1000), "edfs keyslot KEK v1"),
    /// revision 9, the epoch-5 bundle only, not re-encrypting.
    static func goodSCRAMKeyslot() throws -> [UInt8] {
        let kdf = try KeyslotKDF(kind: .scramLinked, iterations: iterations, salt: salt)
        let kek = try kdf.deriveKEK(password: passwordBytes())
        return try Keyslot.seal(user: user, kek: kek, kdf: kdf, revision: 9, bundles: [bundles()[0]],
                                nonces: [keyslotNonces[0]]).bytes
    }

    /// A manifest whose body bytes are `edit`ed after encoding and then sealed validly, so only the body rule fails.
    static func manifest(editingBody edit: (inout [UInt8]) -> Void) throws -> [UInt8] {
        try sealed(manifestBody(), version: 7, fileIDHex: fileIDHex, nonce: manifestNonce, editingBody: edit)
    }

    // MARK: Every file, by name

    /// Byte offsets in the good files, from docs/FORMAT.md.
    enum Offset {
        static let version = 4
        static let reserved = 5
        static let stripeIndex = 24
        static let stripeSegment0Tag = StripeHeader.byteCount + 16  // after segment 0's 16 ciphertext bytes
        static let sealedSegment = 16 + 16
        static let manifestID = 8
        static let keyslotKDF = 5
        static let keyslotIterations = 8
        static let keyslotFlags = 41
        static let keyslotBundleCount = 40
        static let keyslotFirstBundleEpoch = KeyslotHeader.byteCount
        /// In the plaintext manifest body: after version, flags, data key epoch and the str16 file name.
        static let bodySize = 1 + 1 + 4 + 2 + GoldenVectors.fileName.utf8.count
    }

    static let all: [(name: String, make: @Sendable () throws -> [UInt8])] = [
        ("good_stripe_object.bin", goodStripeObject),
        ("good_manifest.bin", goodManifest),
        ("good_tombstone.bin", goodTombstone),
        ("good_manifest_v2.bin", goodManifestV2),
        ("good_manifest_v3.bin", goodManifestV3),
        ("good_manifest_v4.bin", goodManifestV4),
        ("good_manifest_v5.bin", goodManifestV5),
        ("good_folder.bin", goodFolder),
        ("good_keyslot.bin", { try goodKeyslot() }),
        ("good_keyslot_scram.bin", { try goodSCRAMKeyslot() }),

        ("fail_stripe_bad_magic.bin", { try edited(goodStripeObject()) { $0[0] = UInt8(ascii: "X") } }),
        ("fail_stripe_unknown_version.bin", { try edited(goodStripeObject()) { $0[Offset.version] = 2 } }),
        ("fail_stripe_reserved_nonzero.bin", { try edited(goodStripeObject()) { $0[Offset.reserved] = 1 } }),
        ("fail_stripe_truncated_header.bin", { try Array(goodStripeObject().prefix(StripeHeader.byteCount - 1)) }),
        ("fail_stripe_header_mismatch.bin", { try edited(goodStripeObject()) { $0[Offset.stripeIndex + 3] = 2 } }),
        ("fail_stripe_flipped_tag.bin", { try edited(goodStripeObject()) { $0[Offset.stripeSegment0Tag] ^= 0x01 } }),
        ("fail_stripe_segments_swapped.bin", {
            try edited(goodStripeObject()) { bytes in
                let first = StripeHeader.byteCount, second = first + Offset.sealedSegment
                let segment0 = Array(bytes[first..<second])
                bytes.replaceSubrange(first..<second, with: bytes[second..<(second + Offset.sealedSegment)])
                bytes.replaceSubrange(second..<(second + Offset.sealedSegment), with: segment0)
            }
        }),
        ("fail_stripe_final_dropped.bin", { try Array(goodStripeObject().dropLast(8 + 16)) }),
        ("fail_stripe_trailing_bytes.bin", { try goodStripeObject() + [UInt8](repeating: 0, count: 16) }),

        ("fail_manifest_bad_magic.bin", { try edited(goodManifest()) { $0[0] = UInt8(ascii: "X") } }),
        ("fail_manifest_unknown_version.bin", { try edited(goodManifest()) { $0[Offset.version] = 2 } }),
        ("fail_manifest_truncated_header.bin", { try Array(goodManifest().prefix(ManifestHeader.byteCount - 1)) }),
        ("fail_manifest_truncated_body.bin", { try Array(goodManifest().dropLast()) }),
        ("fail_manifest_trailing_bytes.bin", { try goodManifest() + [0] }),
        ("fail_manifest_flipped_tag.bin", { try edited(goodManifest()) { $0[$0.count - 1] ^= 0x01 } }),
        ("fail_manifest_id_mismatch.bin", { try edited(goodManifest()) { $0[Offset.manifestID] ^= 0x01 } }),
        ("fail_manifest_stripe_sum.bin", {
            try manifest { $0[Offset.bodySize + 7] += 1 }  // size 100 → 101; the stripe lengths still add up to 100
        }),
        ("fail_manifest_missing_over_bound.bin", {
            try manifest { body in  // 7 missing replicas for 3 stripes × 2 replicas
                body.removeLast(4 + 2 * 6)
                body += [0, 0, 0, 7]
                for stripe in [0, 0, 1, 1, 2, 2, 0] as [UInt8] { body += [0, 0, 0, stripe, 0, 1] }
            }
        }),
        ("fail_manifest_body_version_6.bin", { try folder { $0[0] = 6 } }),
        ("fail_manifest_v4_inline_bytes.bin", { try manifestV5 { $0[0] = 4 } }),  // inline bytes need version 5
        ("fail_manifest_v5_inline_length.bin", {
            // the inline count (the u32 before the 40 bytes) 40 → 41, one more byte appended: not the whole file
            try manifestV5 { body in
                body[body.count - 40 - 1] = 41
                body.append(0x2e)
            }
        }),
        ("fail_manifest_v5_over_bound.bin", {
            // the inline count 40 → 65,537, past the bound (checked before the bytes are read)
            try manifestV5 { body in body.replaceSubrange((body.count - 44)..<(body.count - 40), with: [0, 1, 0, 1]) }
        }),
        ("fail_manifest_v5_deleted.bin", { try manifestV5 { $0[1] = 0x01 } }),  // an inline tombstone
        ("fail_manifest_v3_single_stripe.bin", { try manifestV4 { $0[0] = 3 } }),  // k = 1 needs version 4
        ("fail_manifest_v4_three_of_four.bin", {
            // good_manifest_v3.bin's body (k = 3 of N = 3) as version 4 with N = 4: 1 < k < N
            try manifestV3 { body in
                body[0] = 4
                body[Offset.bodySize + 8 + 8 + 4 + 4 + 8 + 32 + 4 + 1] = 4  // N, a u16 after the segment size
            }
        }),
        ("fail_manifest_v3_no_stored_time.bin", {
            // the stored time (8 bytes after the mode, which follows version, flags, epoch, name, size and mtime) → 0
            try manifestV3 { body in
                let at = Offset.bodySize + 8 + 8 + 4 + 4
                body.replaceSubrange(at..<(at + 8), with: [UInt8](repeating: 0, count: 8))
            }
        }),
        ("fail_manifest_v1_folder_flag.bin", { try manifest { $0[1] = 0x02 } }),  // body version 1 knows bit 0 only
        ("fail_manifest_folder_not_empty.bin", {
            // size 0 → 1 (bytes 17…24 after version, flags, epoch and the 2 + 6 byte name), stripe 0 length 0 → 1
            try folder { body in
                body[8 + 6 + 7] = 1
                body[8 + 6 + 8 + 8 + 4 + 4 + 32 + 4 + 2 + 2 + 4 + 7] = 1
            }
        }),
        ("fail_manifest_mode_bits.bin", { try folder { $0[8 + 6 + 8 + 8 + 4] = 0x01 } }),  // mode 0o755 → bit 24 set
        ("fail_manifest_missing_out_of_range.bin", {
            try manifest { $0[$0.count - 1] = 3 }  // the last missing replica names node 3 of nodes 0…2
        }),

        ("fail_keyslot_bad_magic.bin", { try edited(goodKeyslot()) { $0[0] = UInt8(ascii: "X") } }),
        ("fail_keyslot_unknown_version.bin", { try edited(goodKeyslot()) { $0[Offset.version] = 2 } }),
        ("fail_keyslot_unknown_kdf.bin", { try edited(goodKeyslot()) { $0[Offset.keyslotKDF] = 3 } }),
        ("fail_keyslot_zero_iterations.bin", {
            try edited(goodKeyslot()) { $0.replaceSubrange(Offset.keyslotIterations..<(Offset.keyslotIterations + 4), with: [0, 0, 0, 0]) }
        }),
        ("fail_keyslot_lowered_iterations.bin", {
            try edited(goodKeyslot()) { $0[Offset.keyslotIterations + 3] -= 1 }  // 1000 → 999
        }),
        ("fail_keyslot_bundle_count.bin", { try edited(goodKeyslot()) { $0[Offset.keyslotBundleCount] = 3 } }),
        ("fail_keyslot_unknown_flags.bin", { try edited(goodKeyslot()) { $0[Offset.keyslotFlags] = 0x03 } }),
        ("fail_keyslot_truncated.bin", { try Array(goodKeyslot().dropLast()) }),
        ("fail_keyslot_trailing_bytes.bin", { try goodKeyslot() + [0] }),
        ("fail_keyslot_flipped_tag.bin", { try edited(goodKeyslot()) { $0[$0.count - 1] ^= 0x01 } }),
        ("fail_keyslot_bundle_epoch.bin", { try edited(goodKeyslot()) { $0[Offset.keyslotFirstBundleEpoch + 3] = 6 } }),
        ("fail_keyslot_other_user.bin", { try goodKeyslot(user: otherUser) }),
    ]

    // MARK: Helpers

    /// The committed bytes of `name` in Vectors/.
    static func committed(_ name: String) throws -> [UInt8] {
        guard let url = Bundle.module.url(forResource: name, withExtension: nil, subdirectory: "Vectors") else {
            throw VectorMissing(name: name)
        }
        return Array(try Data(contentsOf: url))
    }

    struct VectorMissing: Error { let name: String }

    static func edited(_ bytes: [UInt8], _ edit: (inout [UInt8]) -> Void) -> [UInt8] {
        var copy = bytes
        edit(&copy)
        return copy
    }

    static func counting(from start: UInt8, count: Int) -> [UInt8] { (0..<count).map { start + UInt8($0) } }

    static func hex(_ text: String) -> [UInt8] {
        let digits = text.filter { !$0.isWhitespace }
        guard let bytes = Hex.decode(digits) else { preconditionFailure("bad hex literal in a test: \(text)") }
        return bytes
    }
}
