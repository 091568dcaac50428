/// Where one segment of a batch sits in input and output.
struct SegmentSlot {
    var inputOffset: Int
    var inputLength: Int
    var outputOffset: Int
}
