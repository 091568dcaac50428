import COpenSSL

/// One-shot message digests and HMAC over libcrypto.
public enum Digest {
    /// SHA-256 of `data` (32 bytes).
    public static func sha256(_ data: some ContiguousBytesView) -> [UInt8] {
        data.withBytes { digest($0, EVP_sha256(), length: 32) }
    }

    /// MD5 of `data` (16 bytes). Legacy only: the seed's login digests and its placement hash.
    public static func md5(_ data: some ContiguousBytesView) -> [UInt8] {
        data.withBytes { digest($0, EVP_md5(), length: 16) }
    }

    /// HMAC-SHA256 of `data` under `key` (32 bytes).
    public static func hmacSHA256(key: UnsafeRawBufferPointer, _ data: some ContiguousBytesView) -> [UInt8] {
        var out = [UInt8](repeating: 0, count: 32)
        var outLength: UInt32 = 0
        var emptyKey: UInt8 = 0  // HMAC wants a non-null key pointer even for an empty key
        withUnsafeMutablePointer(to: &emptyKey) { fallbackKey in
            data.withBytes { message in
                out.withUnsafeMutableBytes { result in
                    let ok = HMAC(EVP_sha256(), key.baseAddress ?? UnsafeRawPointer(fallbackKey), Int32(key.count),
                                  message.baseAddress?.assumingMemoryBound(to: UInt8.self), message.count,
                                  result.baseAddress?.assumingMemoryBound(to: UInt8.self), &outLength)
                    precondition(ok != nil && outLength == 32, "HMAC-SHA256 failed in libcrypto")
                }
            }
        }
        return out
    }

    /// HMAC-SHA256 under a symmetric key.
    public static func hmacSHA256(key: SymmetricKey, _ data: some ContiguousBytesView) -> [UInt8] {
        key.withUnsafeBytes { hmacSHA256(key: $0, data) }
    }

    private static func digest(_ bytes: UnsafeRawBufferPointer, _ md: OpaquePointer?, length: Int) -> [UInt8] {
        var out = [UInt8](repeating: 0, count: length)
        var outLength: UInt32 = 0
        let ok = out.withUnsafeMutableBytes { result in
            EVP_Digest(bytes.baseAddress, bytes.count,
                       result.baseAddress?.assumingMemoryBound(to: UInt8.self), &outLength, md, nil)
        }
        // A digest of in-memory bytes fails only if libcrypto itself is broken.
        precondition(ok == 1 && Int(outLength) == length, "EVP_Digest failed in libcrypto")
        return out
    }
}

/// Anything whose bytes can be read contiguously: `[UInt8]`, `ArraySlice<UInt8>`, raw buffers, strings as UTF-8.
public protocol ContiguousBytesView {
    func withBytes<R>(_ body: (UnsafeRawBufferPointer) throws -> R) rethrows -> R
}

extension Array: ContiguousBytesView where Element == UInt8 {
    public func withBytes<R>(_ body: (UnsafeRawBufferPointer) throws -> R) rethrows -> R { try withUnsafeBytes(body) }
}
extension ArraySlice: ContiguousBytesView where Element == UInt8 {
    public func withBytes<R>(_ body: (UnsafeRawBufferPointer) throws -> R) rethrows -> R { try withUnsafeBytes(body) }
}
extension UnsafeRawBufferPointer: ContiguousBytesView {
    public func withBytes<R>(_ body: (UnsafeRawBufferPointer) throws -> R) rethrows -> R { try body(self) }
}
extension String: ContiguousBytesView {
    public func withBytes<R>(_ body: (UnsafeRawBufferPointer) throws -> R) rethrows -> R {
        var copy = self
        return try copy.withUTF8 { try body(UnsafeRawBufferPointer($0)) }
    }
}
