/// A run of consecutive segments of one stream, in caller-owned memory.
///
/// `input` holds whole segments back to back (plaintext when sealing, sealed segments when opening); only the
/// last segment of a batch that `endsStream` may be short. `output` must be exactly as long as the result.
public struct SegmentBatch {
    public var firstSegmentIndex: UInt64
    public var endsStream: Bool
    public var input: UnsafeRawBufferPointer
    public var output: UnsafeMutableRawBufferPointer

    public init(firstSegmentIndex: UInt64, endsStream: Bool,
                input: UnsafeRawBufferPointer, output: UnsafeMutableRawBufferPointer) {
        self.firstSegmentIndex = firstSegmentIndex
        self.endsStream = endsStream
        self.input = input
        self.output = output
    }
}
