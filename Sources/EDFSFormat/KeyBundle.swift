import EDFSCrypto

/// A user's key bundle for one key epoch: the master key (seals manifests, and with them every file's data key)
/// and the name key (derives manifest ids from paths).
public struct KeyBundle: Sendable {
    public var epoch: UInt32
    public var masterKey: SymmetricKey
    public var nameKey: SymmetricKey

    public init(epoch: UInt32, masterKey: SymmetricKey, nameKey: SymmetricKey) {
        self.epoch = epoch
        self.masterKey = masterKey
        self.nameKey = nameKey
    }

    /// Fresh random keys for `epoch`.
    public static func generate(epoch: UInt32) throws -> KeyBundle {
        try KeyBundle(epoch: epoch, masterKey: .generate(), nameKey: .generate())
    }
}
