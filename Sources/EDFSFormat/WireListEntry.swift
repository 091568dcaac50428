/// One entry of a LIST page.
public struct WireListEntry: Equatable, Sendable {
    public var name: String
    /// Data length of an object, byte count of a manifest; `UInt64.max` when the stored footer is corrupt.
    public var length: UInt64

    public init(name: String, length: UInt64) {
        self.name = name
        self.length = length
    }
}
