/// How many nodes must take a write for it to count.
public enum WriteRule: Sendable, Equatable {
    /// Every node that was asked.
    case everyNode
    /// At least this many of them.
    case atLeast(Int)
}

/// The answers of one fan-out, by node index: a value, or why that node failed (its error, or the deadline).
struct FanOutResults<T: Sendable>: Sendable {
    var results: [Int: Result<T, any Error>]
    /// Nodes that were asked (reachable ones among those requested).
    var asked: [Int]

    /// Nodes that answered with a value, in index order.
    var succeeded: [Int] { results.keys.filter { if case .success = results[$0] { true } else { false } }.sorted() }

    /// Nodes that failed, with their errors, in index order.
    var failures: [(node: Int, error: any Error)] {
        results.sorted { $0.key < $1.key }.compactMap { node, result in
            if case let .failure(error) = result { return (node, error) }
            return nil
        }
    }

    /// Each successful node's value, in index order.
    var values: [(node: Int, value: T)] {
        results.sorted { $0.key < $1.key }.compactMap { node, result in
            if case let .success(value) = result { return (node, value) }
            return nil
        }
    }

    /// True when the successful nodes satisfy `rule`.
    func meets(_ rule: WriteRule) -> Bool {
        switch rule {
        case .everyNode: return succeeded.count == asked.count
        case let .atLeast(count): return succeeded.count >= count
        }
    }
}

/// Sends one request to many nodes at once, each under the request deadline, and collects every node's answer.
/// Every per-node request of the client goes through here, so none can wait forever on a stalled node.
struct NodeFanOut: Sendable {
    /// Links by node index; nil where the node is not reachable (never asked).
    let links: [(any NodeLink)?]
    /// Seconds each node has for its answer.
    var deadline: Double = RequestDeadline.seconds
    /// Where a node that misses the deadline or drops its connection is recorded, so the session skips it from then on.
    var lost: LostNodes?

    init(links: [(any NodeLink)?], lost: LostNodes? = nil) {
        self.links = links
        self.lost = lost
    }

    /// Runs `body` on every reachable node of `nodes` (all nodes when nil) at once.
    func run<T: Sendable>(on nodes: [Int]? = nil,
                          _ body: @escaping @Sendable (Int, any NodeLink) async throws -> T) async -> FanOutResults<T> {
        let all = links
        let wanted = (nodes ?? Array(all.indices)).filter { $0 >= 0 && $0 < all.count && all[$0] != nil }
        let results = await Self.run(indices: wanted, deadline: deadline, label: { all[$0]?.nodeName ?? "node \($0 + 1)" }) {
            guard let link = all[$0] else { throw NodeLinkError.unreachable("not connected") }
            return try await body($0, link)
        }
        if let lost { for (node, error) in results.failures { lost.note(node, error) } }
        return results
    }

    /// Runs `body` for each index at once, each under `deadline` (also for work that is not yet a link: logins).
    static func run<T: Sendable>(indices: [Int], deadline: Double, label: @escaping @Sendable (Int) -> String,
                                 _ body: @escaping @Sendable (Int) async throws -> T) async -> FanOutResults<T> {
        let unique = Array(Set(indices)).sorted()
        let results = await withTaskGroup(of: (Int, Result<T, any Error>).self) { group in
            for index in unique {
                group.addTask {
                    do {
                        return (index, .success(try await withDeadline(deadline, label(index)) { try await body(index) }))
                    } catch {
                        return (index, .failure(error))
                    }
                }
            }
            var collected = [Int: Result<T, any Error>]()
            for await (index, result) in group { collected[index] = result }
            return collected
        }
        return FanOutResults(results: results, asked: unique)
    }
}
