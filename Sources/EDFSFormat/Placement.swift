import EDFSCrypto

/// Which nodes hold which stripes of a file (DESIGN.md §3, the seed's hash-mod table generalised).
///
/// Nodes are numbered 0…N−1 in configuration order; a file has N stripes numbered 0…N−1 (a file of at most one
/// segment has one, stripe 0). The file's
/// table row is `h = MD5(file id) mod N`, and stripe `c` lives on nodes `(c + h − j) mod N` for
/// `j = 0…R−1`, where `j = 0` is the primary. Every stripe lands on R distinct nodes and every node holds
/// exactly R stripes of each file, so any R−1 nodes may be lost. For N = 4 this reproduces the seed's
/// tables: R = 2 its pairs, R = 3 its triples.
public struct Placement: Hashable, Sendable {
    /// N, the number of nodes (and of stripes per file).
    public let nodeCount: Int
    /// R, the number of nodes that hold each stripe.
    public let replicas: Int

    /// A placement for `nodeCount` ≥ 1 nodes with 1 ≤ `replicas` ≤ `nodeCount`.
    public init(nodeCount: Int, replicas: Int) throws(PlacementError) {
        guard nodeCount >= 1 else { throw .badNodeCount(nodeCount) }
        guard (1...nodeCount).contains(replicas) else { throw .badReplicas(replicas, nodeCount: nodeCount) }
        self.nodeCount = nodeCount
        self.replicas = replicas
    }

    /// The number of stripes a file larger than one segment is cut into: one per node. A smaller file is one stripe
    /// (stripe 0 of its row); readers take a version's stripe count from its manifest (`ManifestBody.stripeCount`).
    public var stripeCount: Int { nodeCount }

    /// The table row of a file: its id's MD5 digest, read as a 128-bit big-endian number, mod `nodeCount`.
    public static func row(for fileID: FileID, nodeCount: Int) throws(PlacementError) -> Int {
        guard nodeCount >= 1 else { throw .badNodeCount(nodeCount) }
        return md5Remainder(of: fileID.bytes, modulo: nodeCount)
    }

    /// The table row of a file for this placement's node count.
    public func row(for fileID: FileID) -> Int {
        Self.md5Remainder(of: fileID.bytes, modulo: nodeCount)
    }

    /// The nodes that hold `stripe` in table `row`, primary first: `(stripe + row − j) mod N`, j = 0…R−1.
    public func nodes(stripe: Int, row: Int) throws(PlacementError) -> [Int] {
        try check(row: row)
        guard (0..<nodeCount).contains(stripe) else { throw .badStripe(stripe, stripeCount: nodeCount) }
        let start = addMod(stripe, row)
        return (0..<replicas).map { j in subtractMod(start, j) }
    }

    /// The stripes that `node` holds in table `row`, in the order of `j` (the one it is primary for first):
    /// `(node − row + j) mod N`, j = 0…R−1.
    public func stripes(onNode node: Int, row: Int) throws(PlacementError) -> [Int] {
        try check(row: row)
        guard (0..<nodeCount).contains(node) else { throw .badNode(node, nodeCount: nodeCount) }
        let start = subtractMod(node, row)
        return (0..<replicas).map { j in addMod(start, j) }
    }

    /// (a + b) mod N for a, b in 0..<N, without overflow.
    private func addMod(_ a: Int, _ b: Int) -> Int { a >= nodeCount - b ? a - (nodeCount - b) : a + b }

    /// (a − b) mod N for a, b in 0..<N, without overflow.
    private func subtractMod(_ a: Int, _ b: Int) -> Int { a >= b ? a - b : a + (nodeCount - b) }

    private func check(row: Int) throws(PlacementError) {
        guard (0..<nodeCount).contains(row) else { throw .badRow(row, nodeCount: nodeCount) }
    }

    /// MD5(`bytes`) as a big-endian unsigned integer, mod `modulus` (≥ 1), without overflow:
    /// Horner's rule one byte at a time in 128-bit intermediate precision.
    static func md5Remainder(of bytes: [UInt8], modulo modulus: Int) -> Int {
        let divisor = UInt64(modulus)
        var remainder: UInt64 = 0
        for byte in Digest.md5(bytes) {
            // remainder < divisor, so remainder·256 + byte < 256·divisor and its high word is < divisor.
            let product = remainder.multipliedFullWidth(by: 256)
            let (low, carry) = product.low.addingReportingOverflow(UInt64(byte))
            let high = product.high + (carry ? 1 : 0)
            remainder = divisor.dividingFullWidth((high: high, low: low)).remainder
        }
        return Int(remainder)
    }
}
