import COpenSSL

/// Overwrites a byte array that held secret material, with `OPENSSL_cleanse` (not optimised away).
public func secureWipe(_ bytes: inout [UInt8]) {
    bytes.withUnsafeMutableBytes { buffer in
        if let base = buffer.baseAddress { OPENSSL_cleanse(base, buffer.count) }
    }
}

/// Overwrites memory that held secret material (a plaintext buffer), with `OPENSSL_cleanse` (not optimised away).
public func secureWipe(_ buffer: UnsafeMutableRawBufferPointer) {
    if let base = buffer.baseAddress, buffer.count > 0 { OPENSSL_cleanse(base, buffer.count) }
}
