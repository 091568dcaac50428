import EDFSFormat

/// What one node said about the user's keyslot.
enum KeyslotState: Sendable {
    case slot(Keyslot)
    case absent
    case failed(String)
}

/// Reads and writes the user's keyslot on the nodes: every node holds a copy, and every write goes to all of them.
struct KeyslotPublication: Sendable {
    let fanOut: NodeFanOut

    init(links: [(any NodeLink)?]) { fanOut = NodeFanOut(links: links) }

    /// Every reachable node's keyslot answer, by node index.
    func fetchAll() async -> [(node: Int, state: KeyslotState)] {
        let answers = await fanOut.run { _, link -> KeyslotState in
            guard let bytes = try await link.getKeyslot() else { return .absent }
            return .slot(try Keyslot.decode(bytes))
        }
        return answers.results.sorted { $0.key < $1.key }.map { node, result in
            switch result {
            case let .success(state): return (node, state)
            case let .failure(error): return (node, .failed(String(describing: error)))
            }
        }
    }

    /// Stores `slot` on `nodes` (every reachable node when nil); the per-node results.
    func store(_ slot: Keyslot, on nodes: [Int]? = nil) async -> FanOutResults<Void> {
        await fanOut.run(on: nodes) { _, link in try await link.putKeyslot(slot.bytes) }
    }

    /// Stores `slot` on every reachable node, or throws naming the first node that refused (`resume` tells the user
    /// how to finish).
    func storeEverywhere(_ slot: Keyslot, resume: String) async throws {
        let results = await store(slot)
        if let (node, error) = results.failures.first {
            let name = fanOut.links[node]?.nodeName ?? "node \(node + 1)"
            throw ClientError.nodeFailure("node \(name) did not store the locked keys (\(error)); \(resume)", error)
        }
    }
}
