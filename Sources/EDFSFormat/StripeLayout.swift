/// How a file of a given size is cut into N stripes (docs/FORMAT.md §5): every stripe holds
/// `⌈size / N⌉` bytes but the last ones, which hold what is left (possibly nothing).
public struct StripeLayout: Equatable, Sendable {
    public let fileSize: UInt64
    public let stripeCount: Int
    /// Bytes in each full stripe.
    public let stripeSpan: UInt64

    public init(fileSize: UInt64, stripeCount: Int) throws {
        guard stripeCount >= 1, stripeCount <= Int(StripeHeader.maximumStripeCount) else {
            throw FormatError.invalidField("stripe count", "must be 1…\(StripeHeader.maximumStripeCount)")
        }
        self.fileSize = fileSize
        self.stripeCount = stripeCount
        stripeSpan = fileSize == 0 ? 0 : (fileSize - 1) / UInt64(stripeCount) + 1
    }

    /// Offset in the file of stripe `index`'s first byte.
    public func offset(ofStripe index: Int) -> UInt64 { min(fileSize, UInt64(index) * stripeSpan) }

    /// Plaintext bytes of stripe `index`.
    public func length(ofStripe index: Int) -> UInt64 {
        let start = offset(ofStripe: index)
        return min(stripeSpan, fileSize - start)
    }

    /// Every stripe's length, in order; they add up to `fileSize`.
    public var lengths: [UInt64] { (0..<stripeCount).map(length(ofStripe:)) }
}
