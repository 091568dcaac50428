import EDFSClient
import EDFSCrypto
import EDFSFormat
import EDFSNode
import Foundation
import Testing

/// A manifest the node can judge: a real cleartext header and an opaque "sealed body".
func testManifest(id: ManifestID, version: UInt64, bodyLength: Int = 64) throws -> [UInt8] {
    let header = ManifestHeader(manifestID: id, version: version, fileID: try FileID.random(), keyEpoch: 1,
                                sealedBodyLength: UInt32(bodyLength))
    return header.encoded() + randomBytes(bodyLength)
}

/// A keyslot the node can judge: a real header and opaque wrapped bundles.
func testKeyslot(epoch: UInt32, revision: UInt64, salt: [UInt8] = randomBytes(16)) throws -> [UInt8] {
    let header = KeyslotHeader(kdf: try KeyslotKDF(iterations: 600_000, salt: salt), epoch: epoch, revision: revision,
                               bundleCount: 1)
    return header.encoded() + randomBytes(Keyslot.wrappedBundleByteCount)
}

func randomManifestID() throws -> ManifestID { try ManifestID(bytes: randomBytes(16)) }

@Suite struct NamespaceAndMetadataTests {
    @Test func usersCannotReachEachOther() async throws {
        try await withNode { node in
            let alice = try await node.connect("alice")
            let bob = try await node.connect("bob")
            let secret = randomBytes(5000)
            try await alice.putObject("shared-name", bytes: secret)
            let manifestID = try randomManifestID()
            let manifest = try testManifest(id: manifestID, version: 3)
            try await alice.putManifest(manifestID.hex, bytes: manifest)
            let keyslot = try testKeyslot(epoch: 1, revision: 1)
            try await alice.putKeyslot(keyslot)

            // Bob sees none of it.
            await expectRefusal(.notFound) { _ = try await bob.getObject("shared-name") }
            await expectRefusal(.notFound) { _ = try await bob.stat(object: "shared-name") }
            await expectRefusal(.notFound) { try await bob.delete(object: "shared-name") }
            #expect(try await bob.listObjects().isEmpty)
            #expect(try await bob.listManifests().isEmpty)
            #expect(try await bob.getManifest(manifestID.hex) == nil)
            await expectRefusal(.notFound) { try await bob.deleteManifest(manifestID.hex, maxVersion: .max) }
            #expect(try await bob.getKeyslot() == nil)
            #expect(try await bob.status().objectCount == 0)

            // Bob's writes under the same names land in his own namespace and change nothing of Alice's.
            try await bob.putObject("shared-name", bytes: [9, 9, 9])
            try await bob.putManifest(manifestID.hex, bytes: try testManifest(id: manifestID, version: 1))
            try await bob.putKeyslot(try testKeyslot(epoch: 1, revision: 1))
            try await bob.delete(object: "shared-name")
            try await bob.deleteManifest(manifestID.hex, maxVersion: .max)

            #expect(try await alice.getObject("shared-name") == secret)
            #expect(try await alice.getManifest(manifestID.hex) == manifest)
            #expect(try await alice.getKeyslot() == keyslot)
            #expect(try await alice.listObjects() == ["shared-name": 5000])
            #expect(try await alice.listManifests() == [manifestID.hex: UInt64(manifest.count)])
            await alice.close()
            await bob.close()
            #expect(FileManager.default.fileExists(atPath: node.dataDirectory + "/users/alice/objects/shared-name"))
            #expect(!FileManager.default.fileExists(atPath: node.dataDirectory + "/users/bob/objects/shared-name"))
        }
    }

    @Test func manifestVersionsOnlyGoForward() async throws {
        try await withNode { node in
            let connection = try await node.connect()
            let id = try randomManifestID()
            let v5 = try testManifest(id: id, version: 5)
            try await connection.putManifest(id.hex, bytes: v5)
            await expectRefusal(.staleVersion) { try await connection.putManifest(id.hex, bytes: try testManifest(id: id, version: 5)) }
            await expectRefusal(.staleVersion) { try await connection.putManifest(id.hex, bytes: try testManifest(id: id, version: 4)) }
            #expect(try await connection.getManifest(id.hex) == v5)
            let v6 = try testManifest(id: id, version: 6)
            try await connection.putManifest(id.hex, bytes: v6)
            #expect(try await connection.getManifest(id.hex) == v6)

            // A header naming another id, or no header at all, is refused.
            await expectRefusal(.malformed) { try await connection.putManifest(id.hex, bytes: try testManifest(id: randomManifestID(), version: 9)) }
            await expectRefusal(.malformed) { try await connection.putManifest(id.hex, bytes: randomBytes(100)) }

            // Conditional delete: refused while the stored version is newer than the bound.
            await expectRefusal(.staleVersion) { try await connection.deleteManifest(id.hex, maxVersion: 5) }
            try await connection.deleteManifest(id.hex, maxVersion: 6)
            #expect(try await connection.getManifest(id.hex) == nil)
            // After a delete, any version may be stored again.
            try await connection.putManifest(id.hex, bytes: try testManifest(id: id, version: 1))
            await connection.close()
        }
    }

    @Test func keyslotsOnlyGoForward() async throws {
        try await withNode { node in
            let connection = try await node.connect()
            let salt = randomBytes(16)
            let first = try testKeyslot(epoch: 2, revision: 1, salt: salt)
            try await connection.putKeyslot(first)
            try await connection.putKeyslot(first)  // the same bytes again: a harmless retry
            await expectRefusal(.staleVersion) { try await connection.putKeyslot(try testKeyslot(epoch: 2, revision: 1)) }
            await expectRefusal(.staleVersion) { try await connection.putKeyslot(try testKeyslot(epoch: 1, revision: 9)) }
            #expect(try await connection.getKeyslot() == first)
            // A password change keeps the epoch and bumps the revision.
            let passwordChanged = try testKeyslot(epoch: 2, revision: 2, salt: randomBytes(16))
            try await connection.putKeyslot(passwordChanged)
            // A rotation bumps the epoch and takes the next revision.
            await expectRefusal(.staleVersion) { try await connection.putKeyslot(try testKeyslot(epoch: 3, revision: 2)) }
            let rotated = try testKeyslot(epoch: 3, revision: 3)
            try await connection.putKeyslot(rotated)
            #expect(try await connection.getKeyslot() == rotated)
            await expectRefusal(.malformed) { try await connection.putKeyslot(randomBytes(30)) }
            await expectRefusal(.tooLarge) { try await connection.putKeyslot(try testKeyslot(epoch: 4, revision: 1) + randomBytes(1 << 20)) }
            await connection.close()
        }
    }
}
