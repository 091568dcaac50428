import EDFSCrypto
@testable import EDFSFormat
import Testing

@Suite("Manifest")
struct ManifestTests {
    private func body(name: String = "reports/2026/q3 résumé.pdf", size: UInt64 = 1000, nodes: UInt16 = 4) throws -> ManifestBody {
        let per = size / UInt64(nodes)
        var lengths = [UInt64](repeating: per, count: Int(nodes))
        lengths[lengths.count - 1] += size - per * UInt64(nodes)
        return ManifestBody(name: name, size: size, modificationSeconds: 1_700_000_000, modificationNanoseconds: 123,
                            dataKey: try .generate(), segmentSize: 1 << 20, nodeCount: nodes, replicas: 2,
                            stripeLengths: lengths, missingReplicas: [MissingReplica(stripe: 2, node: 1)])
    }

    @Test("seal then open returns header and body")
    func roundTrip() throws {
        let master = try SymmetricKey.generate()
        let nameKey = try SymmetricKey.generate()
        let original = try body()
        let id = ManifestID.derive(path: original.name, nameKey: nameKey)
        let fileID = try FileID.random()
        let bytes = try Manifest.seal(manifestID: id, version: 7, fileID: fileID, keyEpoch: 3, body: original, masterKey: master)
        let (header, opened) = try Manifest.open(bytes, masterKey: master)
        #expect(header.manifestID == id && header.version == 7 && header.fileID == fileID && header.keyEpoch == 3)
        #expect(opened.name == original.name && opened.size == original.size && opened.stripeLengths == original.stripeLengths)
        #expect(opened.missingReplicas == original.missingReplicas)
        #expect(opened.dataKey.bytes.constantTimeEquals(original.dataKey.bytes))
        #expect(try ManifestHeader.decode(prefixOf: bytes) == header)
        // The file name appears nowhere in the stored bytes.
        #expect(!Hex.encode(bytes).contains(Hex.encode(Array("résumé".utf8))))
    }

    @Test("any flipped byte, a wrong key or a truncation fails")
    func tamper() throws {
        let master = try SymmetricKey.generate()
        let bytes = try Manifest.seal(manifestID: ManifestID(bytes: SecureRandom.bytes(16)), version: 1, fileID: .random(),
                                      keyEpoch: 1, body: body(), masterKey: master)
        for position in [9, 24, 31, 40, 48, 60, bytes.count - 1] {
            var flipped = bytes
            flipped[position] ^= 0x01
            #expect(throws: FormatError.self) { _ = try Manifest.open(flipped, masterKey: master) }
        }
        #expect(throws: FormatError.authenticationFailed("manifest")) { _ = try Manifest.open(bytes, masterKey: try .generate()) }
        #expect(throws: FormatError.truncated("manifest")) { _ = try Manifest.open(Array(bytes.dropLast()), masterKey: master) }
        #expect(throws: FormatError.trailingBytes("manifest")) { _ = try Manifest.open(bytes + [0], masterKey: master) }
    }

    @Test("tombstone flag and data-key epoch round trip")
    func tombstone() throws {
        let master = try SymmetricKey.generate()
        var tomb = try body(size: 0)
        tomb.isDeleted = true
        tomb.dataKeyEpoch = 9
        let bytes = try Manifest.seal(manifestID: ManifestID(bytes: SecureRandom.bytes(16)), version: 2, fileID: .random(),
                                      keyEpoch: 1, body: tomb, masterKey: master)
        let opened = try Manifest.open(bytes, masterKey: master).body
        #expect(opened.isDeleted && opened.dataKeyEpoch == 9)
        #expect(try !Manifest.open(Manifest.seal(manifestID: ManifestID(bytes: SecureRandom.bytes(16)), version: 1,
                                                 fileID: .random(), keyEpoch: 1, body: body(), masterKey: master),
                                   masterKey: master).body.isDeleted)
    }

    @Test("manifest ids depend on path and name key")
    func manifestIDs() throws {
        let k1 = try SymmetricKey.generate()
        let k2 = try SymmetricKey.generate()
        #expect(ManifestID.derive(path: "a", nameKey: k1) == ManifestID.derive(path: "a", nameKey: k1))
        #expect(ManifestID.derive(path: "a", nameKey: k1) != ManifestID.derive(path: "b", nameKey: k1))
        #expect(ManifestID.derive(path: "a", nameKey: k1) != ManifestID.derive(path: "a", nameKey: k2))
        let id = ManifestID.derive(path: "../etc/passwd", nameKey: k1)
        #expect(id.hex.count == 32 && id.hex.allSatisfy { $0.isHexDigit })
        #expect(try ManifestID(hex: id.hex) == id)
    }

    @Test("bodies that do not add up are refused")
    func invalidBodies() throws {
        let master = try SymmetricKey.generate()
        var bad = try body()
        bad.stripeLengths[0] += 1
        #expect(throws: FormatError.self) {
            _ = try Manifest.seal(manifestID: ManifestID(bytes: SecureRandom.bytes(16)), version: 1, fileID: .random(),
                                  keyEpoch: 1, body: bad, masterKey: master)
        }
        var tooLong = try body()
        tooLong.name = String(repeating: "x", count: ManifestBody.maximumNameBytes + 1)
        #expect(throws: FormatError.self) {
            _ = try Manifest.seal(manifestID: ManifestID(bytes: SecureRandom.bytes(16)), version: 1, fileID: .random(),
                                  keyEpoch: 1, body: tooLong, masterKey: master)
        }
    }

    @Test("stripe headers come from the body")
    func stripeHeaders() throws {
        let b = try body(size: 10, nodes: 4)
        let fileID = try FileID.random()
        let header = try b.stripeHeader(index: 3, fileID: fileID)
        #expect(header.stripeIndex == 3 && header.stripeCount == 4 && header.plaintextLength == b.stripeLengths[3])
        #expect(throws: FormatError.self) { _ = try b.stripeHeader(index: 4, fileID: fileID) }
    }
}

@Suite("Keyslot")
struct KeyslotTests {
    private let fastKDF: KeyslotKDF

    init() throws { fastKDF = try KeyslotKDF.generate(iterations: 1000) }

    @Test("unlock with the right password returns the bundles; the wrong one says wrong password")
    func unlock() throws {
        let password = SecureBytes(copying: Array("correct horse".utf8))
        let bundle = try KeyBundle.generate(epoch: 1)
        let kek = try fastKDF.deriveKEK(password: password)
        let slot = try Keyslot.seal(user: "rohan", kek: kek, kdf: fastKDF, revision: 1, bundles: [bundle])
        let decoded = try Keyslot.decode(slot.bytes)
        let (_, bundles) = try decoded.unlock(user: "rohan", password: password, minimumIterations: 1)
        #expect(bundles.count == 1 && bundles[0].epoch == 1)
        #expect(bundles[0].masterKey.bytes.constantTimeEquals(bundle.masterKey.bytes))
        #expect(bundles[0].nameKey.bytes.constantTimeEquals(bundle.nameKey.bytes))
        #expect(throws: KeyslotError.wrongPassword) {
            _ = try decoded.unlock(user: "rohan", password: SecureBytes(copying: Array("wrong".utf8)), minimumIterations: 1)
        }
        #expect(throws: KeyslotError.wrongPassword) { _ = try decoded.unlock(user: "suyasha", kek: kek) }
        #expect(throws: KeyslotError.weakKDF(iterations: 1000)) { _ = try decoded.unlock(user: "rohan", password: password) }
    }

    @Test("two bundles during a rotation; header fields are authenticated")
    func rotationAndTamper() throws {
        let kek = try SymmetricKey.generate()
        let old = try KeyBundle.generate(epoch: 1)
        let new = try KeyBundle.generate(epoch: 2)
        let slot = try Keyslot.seal(user: "u", kek: kek, kdf: fastKDF, revision: 5, bundles: [new, old])
        #expect(slot.header.epoch == 2 && slot.header.revision == 5 && slot.header.bundleCount == 2)
        #expect(try Keyslot.decode(slot.bytes).unlock(user: "u", kek: kek).map(\.epoch) == [2, 1])
        for position in [8, 12, 28, 32, 50, slot.bytes.count - 1] {  // iterations, salt, epoch, revision, bundle
            var flipped = slot.bytes
            flipped[position] ^= 0x04
            #expect(throws: (any Error).self) { _ = try Keyslot.decode(flipped).unlock(user: "u", kek: kek) }
        }
    }

    @Test("freshness rule: a higher revision at no older epoch supersedes")
    func supersedes() throws {
        let a = KeyslotHeader(kdf: fastKDF, epoch: 1, revision: 3, bundleCount: 1)
        #expect(KeyslotHeader(kdf: fastKDF, epoch: 1, revision: 4, bundleCount: 1).supersedes(a))
        #expect(KeyslotHeader(kdf: fastKDF, epoch: 2, revision: 4, bundleCount: 2).supersedes(a))
        #expect(!KeyslotHeader(kdf: fastKDF, epoch: 2, revision: 3, bundleCount: 2).supersedes(a), "same revision: a race")
        #expect(!KeyslotHeader(kdf: fastKDF, epoch: 1, revision: 3, bundleCount: 1).supersedes(a))
        #expect(!KeyslotHeader(kdf: fastKDF, epoch: 0, revision: 9, bundleCount: 1).supersedes(a))
        #expect(try KeyslotHeader.decode(prefixOf: a.encoded()) == a)
    }
}
