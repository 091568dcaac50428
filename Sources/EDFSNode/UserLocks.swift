import EDFSCrypto

/// One lock per user name, so that one user's metadata writes never wait for another's. An entry lives only while
/// some thread holds or waits for it: the table holds at most one entry per user with work in progress, and none
/// when the node is quiet. Blocking: call from a thread pool.
final class UserLocks: Sendable {
    /// A user's lock.
    private final class Entry: Sendable {
        let mutex = PthreadMutex<Void>(())
    }

    /// User name → its lock and how many threads hold or wait for it.
    private let table = PthreadMutex<[String: (entry: Entry, users: Int)]>([:])

    /// Runs `body` holding `user`'s lock.
    func withLock<T: Sendable>(user: String, _ body: () throws(StoreError) -> T) throws(StoreError) -> T {
        let entry = table.withLock { table -> Entry in
            let slot = table[user] ?? (Entry(), 0)
            table[user] = (slot.entry, slot.users + 1)
            return slot.entry
        }
        defer {
            table.withLock { table in
                guard let slot = table[user] else { return }
                table[user] = slot.users > 1 ? (slot.entry, slot.users - 1) : nil
            }
        }
        return try entry.mutex.withLock { (_: inout Void) throws(StoreError) -> T in try body() }
    }

    /// Users with an entry now (for tests: zero when no metadata write is in progress).
    var count: Int { table.withLock { $0.count } }
}
