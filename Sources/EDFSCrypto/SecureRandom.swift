import COpenSSL

/// The OpenSSL CSPRNG (`RAND_bytes`).
public enum SecureRandom {
    /// Fills `buffer` with random bytes.
    public static func fill(_ buffer: UnsafeMutableRawBufferPointer) throws {
        var offset = 0
        while offset < buffer.count {
            let chunk = Swift.min(buffer.count - offset, Int(Int32.max))
            guard let base = buffer.baseAddress,
                  RAND_bytes(base.advanced(by: offset).assumingMemoryBound(to: UInt8.self), Int32(chunk)) == 1
            else { throw CryptoError.openSSL(function: "RAND_bytes") }
            offset += chunk
        }
    }

    /// `count` random bytes, for values that are not secret (nonces, salts, ids).
    public static func bytes(_ count: Int) throws -> [UInt8] {
        var result = [UInt8](repeating: 0, count: count)
        try result.withUnsafeMutableBytes { try fill($0) }
        return result
    }
}
