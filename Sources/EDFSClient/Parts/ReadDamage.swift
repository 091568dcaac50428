import EDFSCrypto

/// Replicas a read found corrupt or missing while another replica of the same stripe verified: what heal on read
/// repairs once the read is done.
final class ReadDamage: Sendable {
    struct Entry: Sendable {
        var stripe: Int
        /// Nodes whose replica failed verification or was missing.
        var bad: [Int]
        /// The node whose replica verified.
        var good: Int
    }

    private let entries = PthreadMutex<[Entry]>([])

    func record(stripe: Int, bad: [Int], good: Int) {
        entries.withLock { $0.append(Entry(stripe: stripe, bad: bad, good: good)) }
    }

    var all: [Entry] { entries.withLock { $0 }.sorted { $0.stripe < $1.stripe } }
}
