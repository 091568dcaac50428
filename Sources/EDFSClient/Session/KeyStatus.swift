/// The state of a user's keys, for `edfs key status`.
public struct KeyStatus: Sendable, Codable, Equatable {
    public var epoch: UInt32
    /// Every epoch the keyslot holds (two while a rotation is unfinished).
    public var epochs: [UInt32]
    public var revision: UInt64
    public var kdf: String
    public var iterations: UInt32
    public var rotationUnfinished: Bool
    public var reencrypting: Bool
}

extension ClusterSession {
    /// The keys as the keyslot describes them.
    public var keyStatus: KeyStatus {
        KeyStatus(epoch: keyslot.header.epoch, epochs: bundles.map(\.epoch), revision: keyslot.header.revision,
                  kdf: "PBKDF2-HMAC-SHA256", iterations: keyslot.header.kdf.iterations,
                  rotationUnfinished: bundles.count > 1, reencrypting: keyslot.header.reencrypting)
    }
}
