import EDFSCrypto

/// How much of a file moves at once: batch sizes and concurrency shared by every streaming operation.
enum TransferTuning {
    /// Plaintext bytes sealed or opened per batch (whole segments, at least one).
    static let batchBytes = 4 << 20

    /// Segments per batch for `segmentSize`.
    static func segmentsPerBatch(segmentSize: Int) -> Int { max(1, batchBytes / max(1, segmentSize)) }

    /// Stripes transferred at once: enough to keep every core and node busy, few enough to bound memory.
    static var concurrentStripes: Int { max(4, ProcessInfoCores.active) }
}
