/// An argument outside what a placement allows.
public enum PlacementError: Error, Equatable, Sendable, CustomStringConvertible {
    case badNodeCount(Int)
    case badReplicas(Int, nodeCount: Int)
    case badRow(Int, nodeCount: Int)
    case badStripe(Int, stripeCount: Int)
    case badNode(Int, nodeCount: Int)

    public var description: String {
        switch self {
        case let .badNodeCount(n): return "placement needs at least 1 node, not \(n)"
        case let .badReplicas(r, n): return "replicas must be 1…\(n) for \(n) nodes, not \(r)"
        case let .badRow(row, n): return "placement row must be 0…\(n - 1), not \(row)"
        case let .badStripe(stripe, count): return "stripe index must be 0…\(count - 1), not \(stripe)"
        case let .badNode(node, n): return "node index must be 0…\(n - 1), not \(node)"
        }
    }
}
