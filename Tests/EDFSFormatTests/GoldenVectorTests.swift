import EDFSCrypto
@testable import EDFSFormat
import Testing

/// The committed files in Vectors/ against docs/FORMAT.md: good files decode to field values written out here,
/// open under the fixed keys and re-encode from the fixed inputs to the same bytes; each fail file is refused
/// with its documented error (Vectors/README.md).
@Suite("Golden vectors")
struct GoldenVectorTests {
    private typealias V = GoldenVectors

    @Test("every committed file is what the fixed inputs and its documented defect make", arguments: GoldenVectors.all.map(\.name))
    func reencodes(name: String) throws {
        let make = try #require(V.all.first { $0.name == name }).make
        #expect(try V.committed(name) == make())
    }

    // MARK: Stripe object

    /// Opens a stored stripe object as a reader does: header check, then the sealed segments as one batch.
    private func openStripe(_ bytes: [UInt8], dataKey: [UInt8] = GoldenVectors.dataKeyBytes) throws -> [UInt8] {
        _ = try StripeHeader.decode(prefixOf: bytes)
        let opener = try StripeOpener(expected: V.stripeHeader(), dataKey: V.key(dataKey), workers: 1)
        try opener.verifyHeader(bytes.prefix(StripeHeader.byteCount))
        let sealed = Array(bytes.dropFirst(StripeHeader.byteCount))
        var plain = [UInt8](repeating: 0, count: opener.plaintextLength(ofSealedBatch: sealed.count) ?? 0)
        try sealed.withUnsafeBytes { input in try plain.withUnsafeMutableBytes { try opener.open(input, into: $0) } }
        try opener.finish()
        return plain
    }

    @Test("good stripe object: header fields, length and plaintext")
    func goodStripeObject() throws {
        let bytes = try V.committed("good_stripe_object.bin")
        #expect(bytes.count == 132)  // 44 + 40 + 3 segments × 16
        #expect(Array(bytes.prefix(44)) == V.hex("""
            4544534f 01 000000 00112233445566778899aabbccddeeff 00000001 00000003 00000010 0000000000000028
            """))
        let header = try StripeHeader.decode(prefixOf: bytes)
        #expect(header.fileID.hex == "00112233445566778899aabbccddeeff")
        #expect(header.stripeIndex == 1 && header.stripeCount == 3 && header.segmentSize == 16)
        #expect(header.plaintextLength == 40 && header.objectLength == 132)
        #expect(header.objectName == "00112233445566778899aabbccddeeff.1")
        #expect(try openStripe(bytes) == Array("edfs golden vector: stripe 1 of 3, 40 B.".utf8))
        // The manifest names exactly this object as its stripe 1.
        let body = try Manifest.open(V.committed("good_manifest.bin"), masterKey: V.key(V.masterKey5Bytes)).body
        #expect(try body.stripeHeader(index: 1, fileID: FileID(hex: "00112233445566778899aabbccddeeff")) == header)
    }

    @Test("fail stripe objects are refused with their documented error")
    func failStripeObjects() throws {
        #expect(throws: FormatError.badMagic("stripe object")) { try openStripe(V.committed("fail_stripe_bad_magic.bin")) }
        #expect(throws: FormatError.unsupportedVersion("stripe object", 2)) {
            try openStripe(V.committed("fail_stripe_unknown_version.bin"))
        }
        #expect(throws: FormatError.invalidField("stripe object header reserved bytes", "must be zero")) {
            try openStripe(V.committed("fail_stripe_reserved_nonzero.bin"))
        }
        #expect(throws: FormatError.truncated("stripe object header")) {
            try openStripe(V.committed("fail_stripe_truncated_header.bin"))
        }
        #expect(throws: StripeError.headerMismatch) { try openStripe(V.committed("fail_stripe_header_mismatch.bin")) }
        #expect(throws: StripeError.segmentAuthenticationFailed(segment: 0)) {
            try openStripe(V.committed("fail_stripe_flipped_tag.bin"))
        }
        #expect(throws: StripeError.segmentAuthenticationFailed(segment: 0)) {
            try openStripe(V.committed("fail_stripe_segments_swapped.bin"))
        }
        #expect(throws: StripeError.truncated(expected: 132, received: 108)) {
            try openStripe(V.committed("fail_stripe_final_dropped.bin"))
        }
        #expect(throws: StripeError.trailingBytes) { try openStripe(V.committed("fail_stripe_trailing_bytes.bin")) }
        #expect(throws: StripeError.segmentAuthenticationFailed(segment: 0)) {
            try openStripe(V.committed("good_stripe_object.bin"), dataKey: V.masterKey5Bytes)  // another key
        }
    }

    // MARK: Manifest

    @Test("good manifest: header, body fields, missing replicas")
    func goodManifest() throws {
        let bytes = try V.committed("good_manifest.bin")
        #expect(bytes.count == 213)  // 56 + 12 + 129 + 16
        #expect(Array(bytes.prefix(56)) == V.hex("""
            4544534d 01 000000 0f1e2d3c4b5a69788796a5b4c3d2e1f0 0000000000000007
            00112233445566778899aabbccddeeff 00000005 0000009d
            """))
        #expect(Array(bytes[56..<68]) == V.hex("a0a1a2a3a4a5a6a7a8a9aaab"))
        // The body plaintext, laid out by hand from docs/FORMAT.md §3.
        let plain = try bytes.withUnsafeBytes { all in
            try AESGCM.openBox(UnsafeRawBufferPointer(rebasing: all[56...]), key: V.key(V.masterKey5Bytes),
                               aad: UnsafeRawBufferPointer(rebasing: all[0..<56]))
        }
        #expect(plain.withUnsafeBytes { Array($0) } == V.hex("""
            01 00 00000004 0011 676f6c64656e2f7265706f72742e747874 0000000000000064 000000006553f100 075bcd15
            000102030405060708090a0b0c0d0e0f101112131415161718191a1b1c1d1e1f 00000010 0003 0002
            00000003 0000000000000028 0000000000000028 0000000000000014
            00000002 00000001 0002 00000002 0000
            """))
        let (header, body) = try Manifest.open(bytes, masterKey: V.key(V.masterKey5Bytes))
        #expect(header.manifestID.hex == "0f1e2d3c4b5a69788796a5b4c3d2e1f0" && header.version == 7)
        #expect(header.fileID.hex == "00112233445566778899aabbccddeeff" && header.keyEpoch == 5)
        #expect(header.sealedBodyLength == 157)
        #expect(body.name == "golden/report.txt" && body.size == 100 && !body.isDeleted && body.dataKeyEpoch == 4)
        #expect(body.modificationSeconds == 1_700_000_000 && body.modificationNanoseconds == 123_456_789)
        #expect(body.dataKey.withUnsafeBytes { Array($0) } == GoldenVectors.counting(from: 0x00, count: 32))
        #expect(body.segmentSize == 16 && body.nodeCount == 3 && body.replicas == 2)
        #expect(body.stripeLengths == [40, 40, 20])
        #expect(body.missingReplicas == [MissingReplica(stripe: 1, node: 2), MissingReplica(stripe: 2, node: 0)])
        #expect(throws: FormatError.authenticationFailed("manifest")) {
            _ = try Manifest.open(bytes, masterKey: V.key(V.masterKey4Bytes))
        }
    }

    @Test("good tombstone: deleted flag, empty stripes, newer version")
    func goodTombstone() throws {
        let bytes = try V.committed("good_tombstone.bin")
        let (header, body) = try Manifest.open(bytes, masterKey: V.key(V.masterKey5Bytes))
        #expect(header.manifestID.hex == "0f1e2d3c4b5a69788796a5b4c3d2e1f0" && header.version == 8)
        #expect(header.fileID.hex == "ffeeddccbbaa99887766554433221100" && header.keyEpoch == 5)
        #expect(body.isDeleted && body.size == 0 && body.stripeLengths == [0, 0, 0] && body.missingReplicas.isEmpty)
        #expect(body.name == "golden/report.txt" && body.dataKeyEpoch == 5 && body.nodeCount == 3 && body.replicas == 2)
        #expect(Array(bytes[56..<68]) == V.hex("b0b1b2b3b4b5b6b7b8b9babb"))
    }

    /// The plaintext body of a manifest, opened under `master` with the 56 header bytes as AAD.
    private func openedBody(_ bytes: [UInt8], _ master: SymmetricKey) throws -> SecureBytes {
        try bytes.withUnsafeBytes { all in
            try AESGCM.openBox(UnsafeRawBufferPointer(rebasing: all[56...]), key: master,
                               aad: UnsafeRawBufferPointer(rebasing: all[0..<56]))
        }
    }

    @Test("good body version 2: mode and shared-objects flag; a folder entry")
    func goodBodyVersion2() throws {
        let master = try V.key(V.masterKey5Bytes)
        let bytes = try V.committed("good_manifest_v2.bin")
        let plain = try openedBody(bytes, master)
        // Version 2, flags 0x04 (shared objects), then v1's fields with the mode (u32) after the nanoseconds.
        #expect(plain.withUnsafeBytes { Array($0.prefix(49)) } == V.hex("""
            02 04 00000004 0011 676f6c64656e2f7265706f72742e747874 0000000000000064 000000006553f100 075bcd15 000001a0
            """))
        let (header, body) = try Manifest.open(bytes, masterKey: master)
        #expect(header.version == 9 && body.mode == 0o640 && body.sharesObjects && !body.isFolder && body.hasObjects)
        #expect(body.name == "golden/report.txt" && body.size == 100 && body.stripeLengths == [40, 40, 20])

        let (folderHeader, folder) = try Manifest.open(V.committed("good_folder.bin"), masterKey: master)
        #expect(folderHeader.version == 1 && folderHeader.fileID.hex == "0123456789abcdeffedcba9876543210")
        #expect(folder.isFolder && !folder.isDeleted && !folder.hasObjects && folder.name == "golden")
        #expect(folder.mode == 0o755 && folder.size == 0 && folder.stripeLengths == [0, 0, 0])
        // A body that needs nothing of version 2 is still written as version 1, byte for byte (good_manifest.bin).
        #expect(try V.manifestBody().encoded().withUnsafeBytes { $0.first } == 1)
    }

    @Test("good body version 3: the stored time after the mode; a body without one is written as version 1 or 2")
    func goodBodyVersion3() throws {
        let master = try V.key(V.masterKey5Bytes)
        let bytes = try V.committed("good_manifest_v3.bin")
        let plain = try openedBody(bytes, master)
        // Version 3, flags 0x04, v2's fields up to the mode, then the stored time (i64) 1,700,000,100 = 0x6553f164.
        #expect(plain.withUnsafeBytes { Array($0.prefix(57)) } == V.hex("""
            03 04 00000004 0011 676f6c64656e2f7265706f72742e747874 0000000000000064 000000006553f100 075bcd15 000001a0
            000000006553f164
            """))
        let (header, body) = try Manifest.open(bytes, masterKey: master)
        #expect(header.version == 10 && body.storedSeconds == 1_700_000_100 && body.mode == 0o640 && body.sharesObjects)
        #expect(body.name == "golden/report.txt" && body.size == 100 && body.stripeLengths == [40, 40, 20])
        #expect(try V.manifestV2Body().encoded().withUnsafeBytes { $0.first } == 2)
        #expect(try V.manifestV3Body().encoded().withUnsafeBytes { $0.first } == 3)
    }

    @Test("good body version 4: one stripe of N; an N-stripe body is never written as version 4")
    func goodBodyVersion4() throws {
        let master = try V.key(V.masterKey5Bytes)
        let bytes = try V.committed("good_manifest_v4.bin")
        let plain = try openedBody(bytes, master)
        // Version 4, no flags, version 3's fields; after the DEK: S = 16, N = 3, R = 2, k = 1, the one stripe length
        // 40, one missing replica (stripe 0, node 2).
        #expect(plain.withUnsafeBytes { Array($0.prefix(57)) } == V.hex("""
            04 00 00000004 0011 676f6c64656e2f7265706f72742e747874 0000000000000028 000000006553f100 075bcd15 000001a0
            000000006553f164
            """))
        #expect(plain.withUnsafeBytes { Array($0.suffix(30)) } == V.hex("""
            00000010 0003 0002 00000001 0000000000000028 00000001 00000000 0002
            """))
        let (header, body) = try Manifest.open(bytes, masterKey: master)
        #expect(header.version == 11 && body.storedSeconds == 1_700_000_100 && body.mode == 0o640)
        #expect(body.nodeCount == 3 && body.stripeCount == 1 && body.stripeLengths == [40] && body.size == 40)
        #expect(try body.stripeHeader(index: 0, fileID: header.fileID).stripeCount == 1)
        #expect(try V.manifestV4Body().encoded().withUnsafeBytes { $0.first } == 4)
        #expect(try V.manifestV3Body().encoded().withUnsafeBytes { $0.first } == 3)
        // k = 1 needs the stored time of version 4.
        var unstamped = try V.manifestV4Body()
        unstamped.storedSeconds = 0
        #expect(throws: FormatError.invalidField("manifest stored time", "is needed by a single-stripe body")) {
            _ = try unstamped.encoded()
        }
    }

    @Test("good body version 5: an inline file's bytes after version 4's layout; a file with objects is never version 5")
    func goodBodyVersion5() throws {
        let master = try V.key(V.masterKey5Bytes)
        let bytes = try V.committed("good_manifest_v5.bin")
        let plain = try openedBody(bytes, master)
        // Version 5, no flags, version 4's fields (S = 16, N = 3, R = 2, k = 1 of length 40, no missing replicas),
        // then the inline count 40 and the 40 bytes.
        #expect(plain.withUnsafeBytes { Array($0.prefix(57)) } == V.hex("""
            05 00 00000004 0011 676f6c64656e2f7265706f72742e747874 0000000000000028 000000006553f100 075bcd15 000001a0
            000000006553f164
            """))
        #expect(plain.withUnsafeBytes { Array($0.suffix(68)) } == V.hex("""
            00000010 0003 0002 00000001 0000000000000028 00000000 00000028
            """) + V.stripePlaintext)
        let (header, body) = try Manifest.open(bytes, masterKey: master)
        #expect(header.version == 12 && body.storedSeconds == 1_700_000_100 && body.mode == 0o640)
        #expect(body.stripeLengths == [40] && body.size == 40 && body.missingReplicas.isEmpty && !body.hasObjects)
        #expect(body.inlineData?.withUnsafeBytes { Array($0) } == V.stripePlaintext)
        #expect(try V.manifestV5Body().encoded().withUnsafeBytes { $0.first } == 5)
        #expect(try V.manifestV4Body().encoded().withUnsafeBytes { $0.first } == 4)
        // Version 5 needs the stored time, and holds nothing but a whole live file.
        var unstamped = try V.manifestV5Body()
        unstamped.storedSeconds = 0
        #expect(throws: FormatError.invalidField("manifest stored time", "is needed by an inline body")) {
            _ = try unstamped.encoded()
        }
        var split = try V.manifestV5Body()
        split.missingReplicas = [MissingReplica(stripe: 0, node: 1)]
        #expect(throws: FormatError.invalidField("manifest inline data", "must be the whole file, in one stripe")) {
            _ = try split.encoded()
        }
    }

    @Test("fail manifests are refused with their documented error")
    func failManifests() throws {
        let master = try V.key(V.masterKey5Bytes)
        func open(_ name: String) throws { _ = try Manifest.open(V.committed(name), masterKey: master) }
        #expect(throws: FormatError.badMagic("manifest")) { try open("fail_manifest_bad_magic.bin") }
        #expect(throws: FormatError.unsupportedVersion("manifest", 2)) { try open("fail_manifest_unknown_version.bin") }
        #expect(throws: FormatError.truncated("manifest header")) { try open("fail_manifest_truncated_header.bin") }
        #expect(throws: FormatError.truncated("manifest")) { try open("fail_manifest_truncated_body.bin") }
        #expect(throws: FormatError.trailingBytes("manifest")) { try open("fail_manifest_trailing_bytes.bin") }
        #expect(throws: FormatError.authenticationFailed("manifest")) { try open("fail_manifest_flipped_tag.bin") }
        #expect(throws: FormatError.authenticationFailed("manifest")) { try open("fail_manifest_id_mismatch.bin") }
        #expect(try ManifestHeader.decode(prefixOf: V.committed("fail_manifest_id_mismatch.bin")).manifestID.hex
                == "0e1e2d3c4b5a69788796a5b4c3d2e1f0")  // a node refuses it under the good id (PROTOCOL.md)
        #expect(throws: FormatError.invalidField("manifest stripe lengths", "do not add up to the size")) {
            try open("fail_manifest_stripe_sum.bin")
        }
        #expect(throws: FormatError.invalidField("manifest missing-replica count", "is out of range")) {
            try open("fail_manifest_missing_over_bound.bin")
        }
        #expect(throws: FormatError.invalidField("manifest missing replicas", "name a stripe or node out of range")) {
            try open("fail_manifest_missing_out_of_range.bin")
        }
        #expect(throws: FormatError.unsupportedVersion("manifest body", 6)) { try open("fail_manifest_body_version_6.bin") }
        #expect(throws: FormatError.trailingBytes("manifest body")) { try open("fail_manifest_v4_inline_bytes.bin") }
        #expect(throws: FormatError.invalidField("manifest inline data", "must be the whole file, in one stripe")) {
            try open("fail_manifest_v5_inline_length.bin")
        }
        #expect(throws: FormatError.invalidField("manifest inline data", "is longer than 65536 bytes")) {
            try open("fail_manifest_v5_over_bound.bin")
        }
        #expect(throws: FormatError.invalidField("manifest flags", "an inline file is live and not a folder")) {
            try open("fail_manifest_v5_deleted.bin")
        }
        #expect(throws: FormatError.invalidField("manifest stripe count", "must equal the node count")) {
            try open("fail_manifest_v3_single_stripe.bin")
        }
        #expect(throws: FormatError.invalidField("manifest stripe count", "must be 1 or the node count")) {
            try open("fail_manifest_v4_three_of_four.bin")
        }
        #expect(throws: FormatError.invalidField("manifest stored time", "is zero in a version-3 body")) {
            try open("fail_manifest_v3_no_stored_time.bin")
        }
        #expect(throws: FormatError.invalidField("manifest flags", "has unknown bits")) {
            try open("fail_manifest_v1_folder_flag.bin")
        }
        #expect(throws: FormatError.invalidField("manifest flags", "a folder entry is live and empty")) {
            try open("fail_manifest_folder_not_empty.bin")
        }
        #expect(throws: FormatError.invalidField("manifest mode", "has bits beyond 0o7777")) {
            try open("fail_manifest_mode_bits.bin")
        }
    }

    @Test("the manifest id of a path is HMAC-SHA256(nameKey, \"edfs-name-v1\" ‖ 0 ‖ path), first 16 bytes")
    func manifestIDDerivation() throws {
        let id = ManifestID.derive(path: "golden/report.txt", nameKey: try V.key(V.nameKey5Bytes))
        let mac = Digest.hmacSHA256(key: try V.key(V.nameKey5Bytes), Array("edfs-name-v1".utf8) + [0] + Array("golden/report.txt".utf8))
        #expect(id.bytes == Array(mac.prefix(16)))
    }

    // MARK: Keyslot

    @Test("good SCRAM-linked keyslot (KDF kind 2): unlocks from the password and from SCRAM's SaltedPassword")
    func goodSCRAMKeyslot() throws {
        let bytes = try V.committed("good_keyslot_scram.bin")
        #expect(bytes.count == 140)  // 44 + 96
        #expect(Array(bytes.prefix(44)) == V.hex("""
            4544534b 01 02 0000 000003e8 c0c1c2c3c4c5c6c7c8c9cacbcccdcecf 00000005 0000000000000009 01 00 0000
            """))
        let slot = try Keyslot.decode(bytes)
        #expect(slot.header.kdf.kind == .scramLinked)
        let (_, bundles) = try slot.unlock(user: "alice", password: V.passwordBytes(), minimumIterations: 1000)
        #expect(bundles.map(\.epoch) == [5])
        let salted = try SCRAM.saltedPassword(password: V.passwordBytes(), salt: V.salt, iterations: 1000)
        let kek = try slot.header.kdf.deriveKEK(saltedPassword: salted)
        #expect(try slot.unlock(user: "alice", kek: kek)[0].masterKey.withUnsafeBytes { Array($0) }
            == V.counting(from: 0x20, count: 32))
        // SaltedPassword itself is not the KEK of a kind-2 slot.
        #expect(throws: KeyslotError.wrongPassword) { try slot.unlock(user: "alice", kek: salted) }
        #expect(try Keyslot.decode(V.goodSCRAMKeyslot()).bytes == bytes)
    }

    @Test("good keyslot: header fields; unlocks with the password to the fixed bundles")
    func goodKeyslot() throws {
        let bytes = try V.committed("good_keyslot.bin")
        #expect(bytes.count == 236)  // 44 + 2 × 96
        #expect(Array(bytes.prefix(44)) == V.hex("""
            4544534b 01 01 0000 000003e8 c0c1c2c3c4c5c6c7c8c9cacbcccdcecf 00000005 0000000000000009 02 01 0000
            """))
        #expect(Array(bytes[44..<60]) == V.hex("00000005 d0d1d2d3d4d5d6d7d8d9dadb"))
        #expect(Array(bytes[140..<156]) == V.hex("00000004 e0e1e2e3e4e5e6e7e8e9eaeb"))
        let slot = try Keyslot.decode(bytes)
        #expect(slot.header.kdf.iterations == 1000 && slot.header.kdf.salt == V.counting(from: 0xc0, count: 16))
        #expect(slot.header.epoch == 5 && slot.header.revision == 9 && slot.header.bundleCount == 2)
        #expect(slot.header.reencrypting)
        let (_, bundles) = try slot.unlock(user: "alice", password: V.passwordBytes("correct horse battery staple"),
                                           minimumIterations: 1000)
        #expect(bundles.map(\.epoch) == [5, 4])
        #expect(bundles[0].masterKey.withUnsafeBytes { Array($0) } == V.counting(from: 0x20, count: 32))
        #expect(bundles[0].nameKey.withUnsafeBytes { Array($0) } == V.counting(from: 0x40, count: 32))
        #expect(bundles[1].masterKey.withUnsafeBytes { Array($0) } == V.counting(from: 0x60, count: 32))
        #expect(bundles[1].nameKey.withUnsafeBytes { Array($0) } == V.counting(from: 0x80, count: 32))
        // The default work-factor floor refuses this low-iteration vector before deriving anything.
        #expect(throws: KeyslotError.weakKDF(iterations: 1000)) {
            _ = try slot.unlock(user: "alice", password: V.passwordBytes())
        }
        #expect(throws: KeyslotError.wrongPassword) {
            _ = try slot.unlock(user: "alice", password: V.passwordBytes("Correct horse battery staple"), minimumIterations: 1000)
        }
        #expect(throws: KeyslotError.wrongPassword) {
            _ = try slot.unlock(user: "bob", password: V.passwordBytes(), minimumIterations: 1000)
        }
    }

    @Test("fail keyslots are refused with their documented error")
    func failKeyslots() throws {
        func unlock(_ name: String, minimumIterations: UInt32 = 1000) throws {
            _ = try Keyslot.decode(V.committed(name)).unlock(user: "alice", password: V.passwordBytes(),
                                                               minimumIterations: minimumIterations)
        }
        #expect(throws: FormatError.badMagic("keyslot")) { try unlock("fail_keyslot_bad_magic.bin") }
        #expect(throws: FormatError.unsupportedVersion("keyslot", 2)) { try unlock("fail_keyslot_unknown_version.bin") }
        #expect(throws: FormatError.invalidField("keyslot KDF", "is unknown (3)")) { try unlock("fail_keyslot_unknown_kdf.bin") }
        #expect(throws: FormatError.invalidField("keyslot iterations", "must be positive")) {
            try unlock("fail_keyslot_zero_iterations.bin", minimumIterations: 0)
        }
        #expect(throws: KeyslotError.wrongPassword) { try unlock("fail_keyslot_lowered_iterations.bin", minimumIterations: 999) }
        #expect(throws: KeyslotError.weakKDF(iterations: 999)) { try unlock("fail_keyslot_lowered_iterations.bin") }
        #expect(throws: FormatError.invalidField("keyslot bundle count", "must be 1 or 2")) {
            try unlock("fail_keyslot_bundle_count.bin")
        }
        #expect(throws: FormatError.invalidField("keyslot flags", "has unknown bits")) { try unlock("fail_keyslot_unknown_flags.bin") }
        #expect(throws: FormatError.truncated("keyslot")) { try unlock("fail_keyslot_truncated.bin") }
        #expect(throws: FormatError.trailingBytes("keyslot")) { try unlock("fail_keyslot_trailing_bytes.bin") }
        #expect(throws: KeyslotError.wrongPassword) { try unlock("fail_keyslot_flipped_tag.bin") }
        #expect(throws: KeyslotError.wrongPassword) { try unlock("fail_keyslot_bundle_epoch.bin") }
        #expect(throws: KeyslotError.wrongPassword) { try unlock("fail_keyslot_other_user.bin") }
        // The other user's slot is itself good: it opens for its own user.
        let slot = try Keyslot.decode(V.committed("fail_keyslot_other_user.bin"))
        #expect(try slot.unlock(user: "bob", password: V.passwordBytes(), minimumIterations: 1000).bundles.count == 2)
    }
}
