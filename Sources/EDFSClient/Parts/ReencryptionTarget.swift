import EDFSCrypto
import EDFSFormat

/// Where a re-encrypting rotation writes a file version: file id and data key both derived from the old file id
/// under the target master key, so a run interrupted before its commit rewrites byte-identical objects, and anyone
/// superseding that version can find and remove them.
enum ReencryptionTarget {
    /// The file id a re-encryption gives the version with `fileID`.
    static func fileID(for fileID: FileID, target: KeyBundle) throws -> FileID {
        let mac = Digest.hmacSHA256(key: target.masterKey, Array("edfs-reencrypt-v1".utf8) + fileID.bytes)
        return try FileID(bytes: Array(mac[0..<FileID.byteCount]))
    }

    /// The data key of a re-encryption of the version with `fileID`.
    static func dataKey(for fileID: FileID, target: KeyBundle) throws -> SymmetricKey {
        var mac = Digest.hmacSHA256(key: target.masterKey, Array("edfs-reencrypt-dek-v1".utf8) + fileID.bytes)
        defer { secureWipe(&mac) }
        return try SymmetricKey(copying: mac)
    }
}
