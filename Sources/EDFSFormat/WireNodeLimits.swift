/// The limits a node announces in its HELLO reply; a client must stay within them.
public struct WireNodeLimits: Equatable, Sendable {
    /// Largest frame length field the node accepts.
    public var maxFrameLength: UInt32
    /// Largest DATA payload the node accepts and sends.
    public var maxDataPayload: UInt32
    /// Requests in flight per connection.
    public var maxStreams: UInt16
    /// Largest object the node stores.
    public var maxObjectLength: UInt64

    public init(maxFrameLength: UInt32, maxDataPayload: UInt32, maxStreams: UInt16, maxObjectLength: UInt64) {
        self.maxFrameLength = maxFrameLength
        self.maxDataPayload = maxDataPayload
        self.maxStreams = maxStreams
        self.maxObjectLength = maxObjectLength
    }
}
