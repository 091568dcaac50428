/// A stripe replica the writer could not place when it committed the manifest, for repair to finish.
public struct MissingReplica: Equatable, Hashable, Sendable {
    public var stripe: UInt32
    public var node: UInt16
    public init(stripe: UInt32, node: UInt16) {
        self.stripe = stripe
        self.node = node
    }
}
