import EDFSCrypto
import EDFSFormat

/// The golden vectors' data key (bytes 0x00…0x1f).
let dataKey = try! SymmetricKey(copying: (0x00...0x1f).map { UInt8($0) })

/// The stripe object reader as a GET does it: `StripeHeader.decode`, a `StripeOpener` expecting that header (so the
/// fuzzer controls segment size, stripe index and lengths), `verifyHeader`, then the sealed bytes in batches, then
/// `finish()`. The batch size in segments comes from the last input byte (1…8; 0 = everything at once), so batching
/// and short final batches are exercised. The seed good_stripe_object.bin opens.
@_cdecl("LLVMFuzzerTestOneInput")
public func fuzzStripe(_ data: UnsafePointer<UInt8>, _ size: Int) -> CInt {
    let bytes = Array(UnsafeBufferPointer(start: data, count: size))
    guard let header = try? StripeHeader.decode(prefixOf: bytes) else { return 0 }
    // A real reader allocates a batch buffer of at most a few segments: stay inside what a node would serve.
    guard header.segmentSize <= 1 << 20 else { return 0 }
    guard let opener = try? StripeOpener(expected: header, dataKey: dataKey, workers: 1) else { return 0 }
    guard (try? opener.verifyHeader(bytes[0..<StripeHeader.byteCount])) != nil else { return 0 }
    let sealedSegment = Int(header.segmentSize) + AESGCM.tagByteCount
    let perBatch = Int((bytes.last ?? 0) % 9)
    var offset = StripeHeader.byteCount
    while offset < bytes.count {
        let count = perBatch == 0 ? bytes.count - offset : min(perBatch * sealedSegment, bytes.count - offset)
        let batch = Array(bytes[offset..<(offset + count)])
        guard let plainCount = opener.plaintextLength(ofSealedBatch: batch.count) else { return 0 }
        var output = [UInt8](repeating: 0, count: plainCount)
        let opened: Bool = batch.withUnsafeBytes { sealed in
            output.withUnsafeMutableBytes { out in (try? opener.open(sealed, into: out)) != nil }
        }
        guard opened else { return 0 }
        offset += count
    }
    _ = try? opener.finish()
    return 0
}
