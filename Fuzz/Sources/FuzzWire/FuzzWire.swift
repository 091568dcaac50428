import EDFSFormat

/// The wire frame decoder over arbitrary bytes: frame headers one after another (WireFrameHeader.decode, as
/// EDFSTransport's WireFrameDecoder calls it), each payload decoded as a request (what a node parses) and as a reply
/// (what a client parses). The first byte picks the length limit, so both the node's default and small limits run.
@_cdecl("LLVMFuzzerTestOneInput")
public func fuzzWire(_ data: UnsafePointer<UInt8>, _ size: Int) -> CInt {
    let bytes = Array(UnsafeBufferPointer(start: data, count: size))
    guard let first = bytes.first else { return 0 }
    let maxLengthField = first & 1 == 0 ? WireProtocol.defaultMaxFrameLength : 64 + Int(first)
    var offset = 1
    while offset < bytes.count {
        let rest = Array(bytes[offset...])
        let header: WireFrameHeader?
        do {
            header = try rest.withUnsafeBytes { (raw: UnsafeRawBufferPointer) throws(WireError) -> WireFrameHeader? in
                try WireFrameHeader.decode(raw, maxLengthField: maxLengthField)
            }
        } catch let error as WireError {
            _ = error.encodedPayload
            return 0
        } catch {
            fatalError("WireFrameHeader.decode threw an untyped error")
        }
        guard let header else { return 0 }
        // The header must re-encode to the bytes it came from.
        if header.encoded != Array(rest[0..<WireProtocol.headerLength]) { fatalError("header does not round-trip") }
        let start = WireProtocol.headerLength
        let available = rest.count - start
        // A truncated payload is decoded as far as it came (a decoder must refuse it, not read past it).
        let payload = Array(rest[start..<(start + min(available, header.payloadLength))])
        decodeBoth(type: header.type, flags: header.flags, payload: payload)
        offset += start + header.payloadLength
    }
    return 0
}

private func decodeBoth(type: WireFrameType, flags: WireFlags, payload: [UInt8]) {
    if let request = try? WireRequest.decode(type: type, payload: payload) {
        // What decodes must encode again (the node echoes some fields) without trapping.
        _ = try? request.encodePayload()
        _ = request.frameType
    }
    if let reply = try? WireReply.decode(type: type, payload: payload) {
        _ = try? reply.encodePayload()
        _ = reply.frameType
    }
    if type == .error { _ = try? WireError.decode(payload: payload, flags: flags) }
}
