/// A segment that failed to seal or open, by its index in the stream.
public struct SegmentCipherError: Error, Sendable, CustomStringConvertible {
    public let segmentIndex: UInt64
    public let underlying: any Error

    public var isAuthenticationFailure: Bool { (underlying as? CryptoError) == .authenticationFailed }
    public var description: String { "segment \(segmentIndex): \(underlying)" }
}
