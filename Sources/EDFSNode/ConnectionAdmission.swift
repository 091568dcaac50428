import EDFSCrypto
#if canImport(Glibc)
import Glibc
#endif
import EDFSFormat
import NIOCore

/// Who holds the node's connections and GET streams (docs/PROTOCOL.md, "Limits"). A new connection enters the
/// unauthenticated pool (at most `maxUnauthenticatedConnections`); a successful LOGIN moves it to the logged-in pool,
/// bounded per node, per user and per peer address. When the unauthenticated pool is full, the new connection
/// displaces the oldest unauthenticated one of the peer address that holds the most: a flood from one address
/// only displaces itself, and a logged-in connection is never displaced. GET streams are bounded per user and per
/// address (beside `maxStreams` per connection). Local-socket connections have no address and count per node and
/// per user only.
final class ConnectionAdmission: Sendable {
    private struct Pending {
        let channel: any Channel
        let address: String?
        let order: UInt64
    }

    private struct LoggedIn {
        let user: String
        let address: String?
    }

    private struct State {
        var pending: [ObjectIdentifier: Pending] = [:]
        var loggedIn: [ObjectIdentifier: LoggedIn] = [:]
        var connectionsPerUser = Counts()
        var connectionsPerAddress = Counts()
        var getsPerUser = Counts()
        var getsPerAddress = Counts()
        var nextOrder: UInt64 = 0
        var closedSinceTrim = 0
    }

    /// Counts by key; a key whose count drops to zero is removed, so the table holds only live keys.
    private struct Counts {
        var table: [String: Int] = [:]
        subscript(_ key: String?) -> Int { key.flatMap { table[$0] } ?? 0 }
        mutating func add(_ key: String?, _ delta: Int) {
            guard let key else { return }
            let value = (table[key] ?? 0) + delta
            table[key] = value > 0 ? value : nil
        }
    }

    private let limits: NodeLimits
    private let state = PthreadMutex(State())

    init(limits: NodeLimits) { self.limits = limits }

    /// Connections in each pool now (for tests and logs).
    var counts: (unauthenticated: Int, loggedIn: Int) { state.withLock { ($0.pending.count, $0.loggedIn.count) } }

    /// Admits a new connection to the unauthenticated pool; returns the connection it displaces (the caller closes it).
    func admit(_ key: ObjectIdentifier, channel: any Channel, address: String?) -> (any Channel)? {
        state.withLock { s -> (any Channel)? in
            var displaced: (any Channel)?
            if s.pending.count >= max(1, limits.maxUnauthenticatedConnections) {
                var perAddress: [String: Int] = [:]
                for entry in s.pending.values { perAddress[entry.address ?? "", default: 0] += 1 }
                let crowded = perAddress.max { $0.value < $1.value }?.key
                let victim = s.pending.filter { ($0.value.address ?? "") == crowded }
                    .min { $0.value.order < $1.value.order }
                if let victim {
                    s.pending.removeValue(forKey: victim.key)
                    displaced = victim.value.channel
                }
            }
            s.nextOrder += 1
            s.pending[key] = Pending(channel: channel, address: address, order: s.nextOrder)
            return displaced
        }
    }

    /// Moves a connection that just logged in as `user` to the logged-in pool, or refuses (FATAL `limit exceeded`).
    func promote(_ key: ObjectIdentifier, user: String) throws(WireError) {
        let refusal = state.withLock { s -> String? in
            guard let entry = s.pending[key] else { return nil }  // displaced meanwhile: it is closing anyway
            if s.loggedIn.count >= limits.maxConnections {
                return "the node serves at most \(limits.maxConnections) logged-in connections"
            }
            if s.connectionsPerUser[user] >= limits.maxConnectionsPerUser {
                return "user \(WireName.quoted(user)) has \(limits.maxConnectionsPerUser) connections to this node"
            }
            if entry.address != nil, s.connectionsPerAddress[entry.address] >= limits.maxConnectionsPerAddress {
                return "this address has \(limits.maxConnectionsPerAddress) connections to this node"
            }
            s.pending.removeValue(forKey: key)
            s.loggedIn[key] = LoggedIn(user: user, address: entry.address)
            s.connectionsPerUser.add(user, 1)
            s.connectionsPerAddress.add(entry.address, 1)
            return nil
        }
        if let refusal { throw WireError(.limitExceeded, refusal, fatal: true) }
    }

    /// Forgets a connection that ended; true when the heap should be trimmed now (no connection is left, or
    /// `trimAfterCloses` have closed since the last trim).
    func remove(_ key: ObjectIdentifier) -> Bool {
        state.withLock { s -> Bool in
            if s.pending.removeValue(forKey: key) == nil, let entry = s.loggedIn.removeValue(forKey: key) {
                s.connectionsPerUser.add(entry.user, -1)
                s.connectionsPerAddress.add(entry.address, -1)
            }
            s.closedSinceTrim += 1
            guard s.closedSinceTrim >= Self.trimAfterCloses || (s.pending.isEmpty && s.loggedIn.isEmpty) else {
                return false
            }
            s.closedSinceTrim = 0
            return true
        }
    }

    /// Starts a GET stream of `user` from `address`, or refuses it (not FATAL: the connection goes on).
    func beginGet(user: String, address: String?) throws(WireError) {
        let refusal = state.withLock { s -> String? in
            if s.getsPerUser[user] >= limits.maxGetStreamsPerUser {
                return "user \(WireName.quoted(user)) has \(limits.maxGetStreamsPerUser) GETs in flight on this node"
            }
            if address != nil, s.getsPerAddress[address] >= limits.maxGetStreamsPerAddress {
                return "this address has \(limits.maxGetStreamsPerAddress) GETs in flight on this node"
            }
            s.getsPerUser.add(user, 1)
            s.getsPerAddress.add(address, 1)
            return nil
        }
        if let refusal { throw WireError(.limitExceeded, refusal) }
    }

    /// Ends a GET stream begun with `beginGet`.
    func endGet(user: String, address: String?) {
        state.withLock { s in
            s.getsPerUser.add(user, -1)
            s.getsPerAddress.add(address, -1)
        }
    }

    /// Closes after which the heap is trimmed even while other connections stay open.
    static let trimAfterCloses = 32

    /// Makes glibc serve buffers of 128 KiB and more (GET blocks, TLS records of a frame) by mmap, always: by default
    /// its mmap threshold rises after the first such buffer is freed, and from then on block buffers churn through
    /// the arenas, which keep the freed memory. Process-wide; called once when a node is made.
    static func limitHeapRetention() {
        #if canImport(Glibc)
        typealias Option = @convention(c) (Int32, Int32) -> Int32
        guard let program = dlopen(nil, RTLD_NOW), let symbol = dlsym(program, "mallopt") else { return }
        _ = unsafeBitCast(symbol, to: Option.self)(-3, 128 << 10)  // M_MMAP_THRESHOLD
        #endif
    }

    /// Returns the heap's free pages to the system: glibc keeps the memory freed by many connection threads in its
    /// arenas (~220 MB after an unread-GET flood, issue 11); `malloc_trim(0)` releases it. Blocking (milliseconds).
    static func trimHeap() {
        #if canImport(Glibc)
        typealias Trim = @convention(c) (Int) -> Int32
        guard let program = dlopen(nil, RTLD_NOW), let symbol = dlsym(program, "malloc_trim") else { return }
        _ = unsafeBitCast(symbol, to: Trim.self)(0)
        #endif
    }
}
