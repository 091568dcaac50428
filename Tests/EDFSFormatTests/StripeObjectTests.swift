import EDFSCrypto
@testable import EDFSFormat
import Testing

/// Seals and opens whole stripe objects through the streaming sealer/opener, in batches of `batchSegments`.
private struct StripeFixture {
    let key: SymmetricKey
    let segment: Int

    init(segment: Int = 64) throws {
        key = try SymmetricKey.generate()
        self.segment = segment
    }

    func header(fileID: FileID, stripe: UInt32 = 1, count: UInt32 = 4, length: Int) throws -> StripeHeader {
        try StripeHeader(fileID: fileID, stripeIndex: stripe, stripeCount: count, segmentSize: UInt32(segment),
                         plaintextLength: UInt64(length))
    }

    /// The whole object: header ‖ sealed segments.
    func seal(_ plaintext: [UInt8], header: StripeHeader, batchSegments: Int = 2, workers: Int = 2) throws -> [UInt8] {
        let sealer = try StripeSealer(header: header, dataKey: key, workers: workers)
        var object = sealer.headerBytes
        var offset = 0
        repeat {
            let length = min(batchSegments * segment, plaintext.count - offset)
            var out = [UInt8](repeating: 0, count: sealer.sealedLength(ofBatch: length))
            try plaintext.withUnsafeBytes { p in
                try out.withUnsafeMutableBytes { o in
                    try sealer.seal(UnsafeRawBufferPointer(rebasing: p[offset..<(offset + length)]), into: o)
                }
            }
            object += out
            offset += length
        } while offset < plaintext.count
        #expect(sealer.isComplete)
        #expect(UInt64(object.count) == header.objectLength)
        return object
    }

    /// Opens `object` against the expected `header`, in batches of whole sealed segments.
    func open(_ object: [UInt8], expected header: StripeHeader, batchSegments: Int = 3, workers: Int = 2) throws -> [UInt8] {
        let opener = try StripeOpener(expected: header, dataKey: key, workers: workers)
        try opener.verifyHeader(object.prefix(StripeHeader.byteCount))
        var plaintext = [UInt8]()
        var offset = StripeHeader.byteCount
        let sealedSegment = segment + AESGCM.tagByteCount
        while offset < object.count {
            let length = min(batchSegments * sealedSegment, object.count - offset)
            let plainLength = try #require(opener.plaintextLength(ofSealedBatch: length))
            var out = [UInt8](repeating: 0, count: plainLength)
            try object.withUnsafeBytes { o in
                try out.withUnsafeMutableBytes { p in
                    try opener.open(UnsafeRawBufferPointer(rebasing: o[offset..<(offset + length)]), into: p)
                }
            }
            plaintext += out
            offset += length
        }
        try opener.finish()
        return plaintext
    }
}

private func randomBytes(_ count: Int) throws -> [UInt8] { try SecureRandom.bytes(count) }

@Suite("Stripe object")
struct StripeObjectTests {
    @Test("round trip", arguments: [0, 1, 63, 64, 65, 3 * 64 + 7])
    func roundTrip(length: Int) throws {
        let fixture = try StripeFixture(segment: 64)
        let header = try fixture.header(fileID: .random(), length: length)
        let plaintext = try randomBytes(length)
        for batch in [1, 2, 5] {
            let object = try fixture.seal(plaintext, header: header, batchSegments: batch)
            #expect(try fixture.open(object, expected: header, batchSegments: batch) == plaintext)
        }
    }

    @Test("header encodes to 44 bytes and decodes back")
    func headerCodec() throws {
        let header = try StripeHeader(fileID: .random(), stripeIndex: 3, stripeCount: 4, segmentSize: 1 << 20,
                                      plaintextLength: 123_456_789)
        let bytes = header.encoded()
        #expect(bytes.count == StripeHeader.byteCount)
        #expect(Array(bytes.prefix(4)) == Array("EDSO".utf8))
        #expect(try StripeHeader.decode(prefixOf: bytes + [1, 2, 3]) == header)
        var badMagic = bytes
        badMagic[0] ^= 1
        #expect(throws: FormatError.badMagic("stripe object")) { try StripeHeader.decode(prefixOf: badMagic) }
        var badIndex = bytes
        badIndex[27] = 9  // stripe index 9 of 4
        #expect(throws: FormatError.self) { try StripeHeader.decode(prefixOf: badIndex) }
        #expect(throws: FormatError.truncated("stripe object header")) { try StripeHeader.decode(prefixOf: Array(bytes.prefix(43))) }
    }

    @Test("parallel and serial sealing give identical bytes")
    func parallelMatchesSerial() throws {
        let fixture = try StripeFixture(segment: 64)
        let header = try fixture.header(fileID: .random(), length: 64 * 9 + 5)
        let plaintext = try randomBytes(64 * 9 + 5)
        let serial = try fixture.seal(plaintext, header: header, batchSegments: 10, workers: 1)
        let parallel = try fixture.seal(plaintext, header: header, batchSegments: 4, workers: 3)
        #expect(serial == parallel)
    }

    @Test("swapping two segments fails")
    func swappedSegments() throws {
        let fixture = try StripeFixture(segment: 64)
        let header = try fixture.header(fileID: .random(), length: 64 * 3)
        var object = try fixture.seal(try randomBytes(64 * 3), header: header)
        let s = 64 + 16
        let first = Array(object[44..<(44 + s)])
        object.replaceSubrange(44..<(44 + s), with: object[(44 + s)..<(44 + 2 * s)])
        object.replaceSubrange((44 + s)..<(44 + 2 * s), with: first)
        #expect(throws: StripeError.segmentAuthenticationFailed(segment: 0)) {
            _ = try fixture.open(object, expected: header, batchSegments: 1)
        }
    }

    @Test("dropping the final segment fails")
    func droppedFinalSegment() throws {
        let fixture = try StripeFixture(segment: 64)
        let header = try fixture.header(fileID: .random(), length: 64 * 3)
        let object = try fixture.seal(try randomBytes(64 * 3), header: header)
        let cut = Array(object.dropLast(64 + 16))
        #expect(throws: StripeError.self) { _ = try fixture.open(cut, expected: header) }
        // Even claiming the shorter length in the header cannot make the old second segment final.
        let shorter = try fixture.header(fileID: header.fileID, length: 64 * 2)
        var relabelled = cut
        relabelled.replaceSubrange(0..<44, with: shorter.encoded())
        #expect(throws: StripeError.self) { _ = try fixture.open(relabelled, expected: shorter) }
    }

    @Test("appending a segment fails")
    func appendedSegment() throws {
        let fixture = try StripeFixture(segment: 64)
        let header = try fixture.header(fileID: .random(), length: 64 * 2)
        let plaintext = try randomBytes(64 * 3)
        let longer = try fixture.header(fileID: header.fileID, length: 64 * 3)
        let longObject = try fixture.seal(plaintext, header: longer)
        let object = try fixture.seal(Array(plaintext.prefix(128)), header: header)
        let extra = Array(longObject.suffix(64 + 16))
        #expect(throws: StripeError.trailingBytes) { _ = try fixture.open(object + extra, expected: header, batchSegments: 1) }
    }

    @Test("a segment moved to another stripe or another file fails")
    func movedSegment() throws {
        let fixture = try StripeFixture(segment: 64)
        let fileID = try FileID.random()
        let plaintext = try randomBytes(64 * 2)
        let stripe1 = try fixture.header(fileID: fileID, stripe: 1, length: 128)
        let stripe2 = try fixture.header(fileID: fileID, stripe: 2, length: 128)
        let other = try fixture.header(fileID: .random(), stripe: 1, length: 128)
        let object1 = try fixture.seal(plaintext, header: stripe1)
        let object2 = try fixture.seal(plaintext, header: stripe2)
        let objectOther = try fixture.seal(plaintext, header: other)
        // Same plaintext, same key: only the nonce prefix and AAD differ, and they must.
        var moved = object1
        moved.replaceSubrange(44..<(44 + 80), with: object2[44..<(44 + 80)])
        #expect(throws: StripeError.segmentAuthenticationFailed(segment: 0)) { _ = try fixture.open(moved, expected: stripe1) }
        var fromOtherFile = object1
        fromOtherFile.replaceSubrange(44..<(44 + 80), with: objectOther[44..<(44 + 80)])
        #expect(throws: StripeError.segmentAuthenticationFailed(segment: 0)) { _ = try fixture.open(fromOtherFile, expected: stripe1) }
        // A whole object presented for another stripe is refused at the header.
        #expect(throws: StripeError.headerMismatch) { _ = try fixture.open(object2, expected: stripe1) }
    }

    @Test("one flipped bit anywhere in a segment fails; truncation fails")
    func flippedBitAndTruncation() throws {
        let fixture = try StripeFixture(segment: 64)
        let header = try fixture.header(fileID: .random(), length: 100)
        let object = try fixture.seal(try randomBytes(100), header: header)
        for position in [44, 44 + 63, 44 + 64, 44 + 79, object.count - 1] {
            var flipped = object
            flipped[position] ^= 0x10
            #expect(throws: StripeError.self) { _ = try fixture.open(flipped, expected: header) }
        }
        let opener = try StripeOpener(expected: header, dataKey: fixture.key, workers: 1)
        #expect(throws: StripeError.self) { try opener.finish() }
    }

    @Test("wrong data key fails")
    func wrongKey() throws {
        let fixture = try StripeFixture(segment: 64)
        let header = try fixture.header(fileID: .random(), length: 10)
        let object = try fixture.seal(try randomBytes(10), header: header)
        let stranger = try StripeFixture(segment: 64)
        #expect(throws: StripeError.segmentAuthenticationFailed(segment: 0)) { _ = try stranger.open(object, expected: header) }
    }

    @Test("sealer refuses batches that break the segment rules")
    func badBatches() throws {
        let fixture = try StripeFixture(segment: 64)
        let header = try fixture.header(fileID: .random(), length: 200)
        let sealer = try StripeSealer(header: header, dataKey: fixture.key, workers: 1)
        var out = [UInt8](repeating: 0, count: 1024)
        let data = [UInt8](repeating: 7, count: 300)
        data.withUnsafeBytes { p in
            out.withUnsafeMutableBytes { o in
                #expect(throws: StripeError.self) {  // partial segment before the end
                    try sealer.seal(UnsafeRawBufferPointer(rebasing: p[0..<10]), into: UnsafeMutableRawBufferPointer(rebasing: o[0..<26]))
                }
                #expect(throws: StripeError.self) {  // past the stripe length
                    try sealer.seal(UnsafeRawBufferPointer(rebasing: p[0..<256]), into: UnsafeMutableRawBufferPointer(rebasing: o[0..<(256 + 64)]))
                }
            }
        }
    }
}

@Suite("Stripe layout")
struct StripeLayoutTests {
    @Test("lengths add up and stripes tile the file", arguments: [0, 1, 3, 4, 5, 1023, 1 << 20, (5 << 20) + 3])
    func tiles(size: Int) throws {
        for n in 1...7 {
            let layout = try StripeLayout(fileSize: UInt64(size), stripeCount: n)
            #expect(layout.lengths.reduce(0, +) == UInt64(size))
            var expectedOffset: UInt64 = 0
            for c in 0..<n {
                #expect(layout.offset(ofStripe: c) == expectedOffset)
                expectedOffset += layout.length(ofStripe: c)
                #expect(layout.length(ofStripe: c) <= layout.stripeSpan)
            }
        }
        #expect(try StripeLayout(fileSize: 5, stripeCount: 4).lengths == [2, 2, 1, 0])
        #expect(throws: FormatError.self) { _ = try StripeLayout(fileSize: 5, stripeCount: 0) }
    }
}

/// `StripeOpener.openArriving`: the object's sealed bytes opened as they arrive, in pieces of any size (the client's
/// get path), against the batch opener's results.
@Suite("Stripe object opened as it arrives")
struct StripeArrivingTests {
    /// Feeds `sealed` (the object after its header) from `start` on in pieces of `piece` bytes; returns the plaintext.
    private static func feed(_ opener: StripeOpener, _ object: [UInt8], from start: Int = StripeHeader.byteCount,
                             piece: Int) throws -> [UInt8] {
        var plaintext = [UInt8](repeating: 0, count: object.count)
        var produced = 0
        var offset = start
        try object.withUnsafeBytes { o in
            try plaintext.withUnsafeMutableBytes { p in
                while offset < o.count {
                    let count = min(piece, o.count - offset)
                    produced += try opener.openArriving(UnsafeRawBufferPointer(rebasing: o[offset..<(offset + count)]),
                                                        into: p.baseAddress! + produced)
                    offset += count
                }
            }
        }
        return Array(plaintext[0..<produced])
    }

    @Test("any split opens to the plaintext and finishes", arguments: [0, 1, 64, 65, 5 * 64 + 9])
    func anySplit(length: Int) throws {
        let fixture = try StripeFixture()
        let header = try fixture.header(fileID: FileID.random(), length: length)
        let plaintext = try randomBytes(length)
        let object = try fixture.seal(plaintext, header: header)
        for piece in [1, 15, 80, 81, 1000] {
            let opener = try StripeOpener(expected: header, dataKey: fixture.key, workers: 1)
            try opener.verifyHeader(object.prefix(StripeHeader.byteCount))
            #expect(try Self.feed(opener, object, piece: piece) == plaintext, "piece \(piece)")
            #expect(opener.arrivingAtSegmentBoundary)
            try opener.finish()
        }
    }

    @Test("a changed byte fails its segment; a rewind to the last whole batch and the good bytes open the rest")
    func changedByteThenAnotherSource() throws {
        let fixture = try StripeFixture()
        let length = 6 * 64 + 5
        let header = try fixture.header(fileID: FileID.random(), length: length)
        let plaintext = try randomBytes(length)
        let object = try fixture.seal(plaintext, header: header)
        let sealedSegment = 64 + AESGCM.tagByteCount
        var bad = object
        bad[StripeHeader.byteCount + 3 * sealedSegment + 70] ^= 0x80  // the tag of segment 3
        let opener = try StripeOpener(expected: header, dataKey: fixture.key, workers: 1)
        #expect(throws: StripeError.segmentAuthenticationFailed(segment: 3)) { _ = try Self.feed(opener, bad, piece: 50) }
        // Not finished: the stream stopped at segment 3.
        #expect(throws: StripeError.self) { try opener.finish() }
        // A batch of two segments was handed on; the next source resumes at segment 2.
        try opener.rewindArriving(toSealedOffset: UInt64(2 * sealedSegment))
        let rest = try Self.feed(opener, object, from: StripeHeader.byteCount + 2 * sealedSegment, piece: 33)
        #expect(rest == Array(plaintext[(2 * 64)...]))
        try opener.finish()
    }

    @Test("bytes past the object's end are refused; a cut object does not finish")
    func trailingAndTruncated() throws {
        let fixture = try StripeFixture()
        let header = try fixture.header(fileID: FileID.random(), length: 200)
        let object = try fixture.seal(try randomBytes(200), header: header)
        let opener = try StripeOpener(expected: header, dataKey: fixture.key, workers: 1)
        #expect(throws: StripeError.trailingBytes) { _ = try Self.feed(opener, object + [0], piece: object.count + 1) }
        let cut = try StripeOpener(expected: header, dataKey: fixture.key, workers: 1)
        _ = try Self.feed(cut, Array(object.dropLast(1)), piece: 40)
        #expect(!cut.arrivingAtSegmentBoundary)
        #expect(throws: StripeError.self) { try cut.finish() }
    }
}
