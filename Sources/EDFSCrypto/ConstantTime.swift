import COpenSSL

/// Comparisons whose running time does not depend on where secret inputs differ.
public enum ConstantTime {
    /// True when both buffers have the same length and bytes. Lengths are not secret.
    public static func equals(_ a: UnsafeRawBufferPointer, _ b: UnsafeRawBufferPointer) -> Bool {
        guard a.count == b.count else { return false }
        guard a.count > 0, let pa = a.baseAddress, let pb = b.baseAddress else { return true }
        return CRYPTO_memcmp(pa, pb, a.count) == 0
    }

    /// True when both byte arrays are equal, compared in constant time.
    public static func equals(_ a: [UInt8], _ b: [UInt8]) -> Bool {
        a.withUnsafeBytes { pa in b.withUnsafeBytes { pb in equals(pa, pb) } }
    }
}
