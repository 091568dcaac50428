import EDFSCrypto
import EDFSFormat

/// How much of a file moves at once: batch sizes and concurrency shared by every streaming operation.
enum TransferTuning {
    /// Plaintext bytes sealed or opened per batch (whole segments, at least one).
    static let batchBytes = 4 << 20

    /// Segments per batch for `segmentSize`.
    static func segmentsPerBatch(segmentSize: Int) -> Int { max(1, batchBytes / max(1, segmentSize)) }

    /// k, the stripes a file of `fileSize` bytes is cut into: one stripe (placed as stripe 0 of the file's row) when it
    /// fits in one segment, else one per node. A small file then costs R object writes instead of N × R
    /// (docs/PERFORMANCE.md, "Small files as one stripe").
    static func stripeCount(fileSize: UInt64, segmentSize: Int, nodeCount: Int) -> Int {
        fileSize <= UInt64(max(0, segmentSize)) ? 1 : nodeCount
    }

    /// Whether a put stores a file of `fileSize` bytes inline in its manifest: at most `InlineLimit` bytes (0: never) and
    /// one segment (docs/PERFORMANCE.md, "Inline small files").
    static func storesInline(fileSize: UInt64, config: ClusterConfig) -> Bool {
        config.inlineLimit > 0 && fileSize <= UInt64(max(0, min(config.inlineLimit, config.segmentSize)))
    }

    /// Stripes transferred at once: enough to keep every core and node busy, few enough to bound memory.
    static var concurrentStripes: Int { max(4, ProcessInfoCores.active) }
}
