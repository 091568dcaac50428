/// Flag bits of a frame.
public struct WireFlags: OptionSet, Hashable, Sendable {
    public let rawValue: UInt8
    public init(rawValue: UInt8) { self.rawValue = rawValue }
    /// On an ERROR frame: the node closes the connection after it.
    public static let fatal = WireFlags(rawValue: 0x01)
}
