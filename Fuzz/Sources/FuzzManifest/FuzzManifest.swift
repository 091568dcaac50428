import EDFSCrypto
import EDFSFormat

/// The epoch-5 masterKey of the golden vectors (Tests/EDFSFormatTests/Vectors/README.md): bytes 0x20…0x3f.
let masterKey = try! SymmetricKey(copying: (0x20...0x3f).map { UInt8($0) })

/// The manifest decoder. First byte even: the rest is a stored manifest (`ManifestHeader.decode` + `Manifest.open`
/// under the golden masterKey; the seed `good_manifest.bin` opens). First byte odd: the rest is a manifest *body*
/// plaintext, sealed here under the key so that the body parser behind the tag is reached too.
@_cdecl("LLVMFuzzerTestOneInput")
public func fuzzManifest(_ data: UnsafePointer<UInt8>, _ size: Int) -> CInt {
    let all = Array(UnsafeBufferPointer(start: data, count: size))
    guard let mode = all.first else { return 0 }
    let bytes = Array(all.dropFirst())
    if mode & 1 == 0 {
        _ = try? ManifestHeader.decode(prefixOf: bytes)
        open(bytes)
    } else {
        guard bytes.count + AESGCM.nonceByteCount + AESGCM.tagByteCount <= Int(ManifestHeader.maximumBodyLength),
              let manifestID = try? ManifestID(hex: "0f1e2d3c4b5a69788796a5b4c3d2e1f0"),
              let fileID = try? FileID(hex: "00112233445566778899aabbccddeeff") else { return 0 }
        let header = ManifestHeader(manifestID: manifestID, version: 7, fileID: fileID, keyEpoch: 5,
                                    sealedBodyLength: UInt32(bytes.count + AESGCM.nonceByteCount + AESGCM.tagByteCount))
        let headerBytes = header.encoded()
        guard let box = try? bytes.withUnsafeBytes({ plain in
            try headerBytes.withUnsafeBytes { aad in try AESGCM.sealBox(plain, key: masterKey, aad: aad) }
        }) else { return 0 }
        open(headerBytes + box)
    }
    return 0
}

private func open(_ manifest: [UInt8]) {
    guard let (header, body) = try? Manifest.open(manifest, masterKey: masterKey) else { return }
    // What opened must be usable: every stripe's header, the manifest's length.
    _ = header.manifestLength
    for index in body.stripeLengths.indices { _ = try? body.stripeHeader(index: index, fileID: header.fileID) }
}
