/// How far a node checked a stored object's block checksums.
public enum WireChecksumState: UInt8, Sendable {
    /// The footer is intact; the blocks were not read.
    case footerIntact = 0
    /// Every block was read and matched.
    case verified = 1
    /// The footer is unreadable or a block did not match.
    case corrupt = 2
}
