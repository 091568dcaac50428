import EDFSCrypto
import EDFSTransport

/// One answer of the metrics endpoint: sets the gauges that are read at scrape time (connections, throttled logins,
/// storage) and renders the node's registry. Scrapes run one at a time; the storage walk runs on the node's
/// blocking pool and its result is reused for `storageRefresh`, so scraping in a loop costs the node at most one
/// walk of its data folder per interval.
struct MetricsScrape: Sendable {
    let services: NodeServices
    /// How long a storage measurement is reused.
    let storageRefresh: Duration
    private let oneAtATime = AsyncAllowance(1)
    private let lastStorage = PthreadMutex<(usage: StorageUsage, at: ContinuousClock.Instant)?>(nil)

    init(services: NodeServices, storageRefresh: Duration) {
        self.services = services
        self.storageRefresh = storageRefresh
    }

    /// The exposition text (Prometheus text format 0.0.4); nil when the node is stopping.
    func render() async -> [UInt8]? {
        do {
            _ = try await oneAtATime.take(minimum: 1, maximum: 1)
        } catch {
            return nil
        }
        defer { oneAtATime.add(1) }
        let metrics = services.metrics
        let connections = services.admission.counts
        metrics.setConnections(unauthenticated: connections.unauthenticated, loggedIn: connections.loggedIn)
        let throttled = services.loginGuard.throttledNow
        metrics.setThrottled(pairs: throttled.pairs, addresses: throttled.addresses)
        let now = ContinuousClock.now
        if let last = lastStorage.withLock({ $0 }), now - last.at < storageRefresh {
            metrics.setStorage(last.usage)
        } else {
            let store = services.store
            // A failed walk leaves the storage gauges at their last values.
            if let usage = try? await services.blocking({ () throws(StoreError) in try StorageUsage.measure(store) }) {
                lastStorage.withLock { $0 = (usage, now) }
                metrics.setStorage(usage)
            }
        }
        return metrics.exposition()
    }

    /// Stops: a scrape waiting for its turn returns nil.
    func close() { oneAtATime.close() }
}
