#if canImport(Glibc)
import Glibc
#elseif canImport(Darwin)
import Darwin
#endif
import CoreMetrics
import EDFSCrypto
import EDFSFormat
import Prometheus

/// The metrics of one node (docs/METRICS.md). Every metric is made through swift-metrics with a factory bound to
/// this node's own `PrometheusCollectorRegistry`, never through the process-wide `MetricsSystem`: several nodes in
/// one process (tests, `InProcessCluster`) keep separate counts, and nothing else in the process writes into a
/// node's registry. Names start with `edfs_` and carry their unit; every label value comes from a fixed enum
/// (`RequestTypeLabel`, `RequestResultLabel`, …), never from a user name, an object id or an address.
public final class NodeMetrics: Sendable {
    /// The registry the node's metrics endpoint serves.
    public let registry: PrometheusCollectorRegistry
    private let factory: PrometheusMetricsFactory

    let networkReceived: CoreMetrics.Counter
    let networkSent: CoreMetrics.Counter
    let objectReceived: CoreMetrics.Counter
    let objectSent: CoreMetrics.Counter
    let connectionsAccepted: CoreMetrics.Counter
    let connectionsDisplaced: CoreMetrics.Counter
    private let requestCounters = PthreadMutex<[String: CoreMetrics.Counter]>([:])
    private let requestTimers = PthreadMutex<[RequestTypeLabel: CoreMetrics.Timer]>([:])
    private let loginFailures = PthreadMutex<[String: CoreMetrics.Counter]>([:])
    private let scrubRuns = PthreadMutex<[String: CoreMetrics.Counter]>([:])
    private let scrubCheckedFiles: CoreMetrics.Counter
    private let scrubCorruptFiles: CoreMetrics.Counter
    private let scrubReclaimedBytes: CoreMetrics.Counter
    private let scrubLastFinished: CoreMetrics.Gauge
    private let scrubLastDuration: CoreMetrics.Gauge
    private let scrubLastCorrupt: CoreMetrics.Gauge
    private let connectionsUnauthenticated: CoreMetrics.Gauge
    private let connectionsLoggedIn: CoreMetrics.Gauge
    private let throttledPairs: CoreMetrics.Gauge
    private let throttledAddresses: CoreMetrics.Gauge
    private let users: CoreMetrics.Gauge
    private let storedObjects: CoreMetrics.Gauge
    private let storedManifests: CoreMetrics.Gauge
    private let storedBytes: CoreMetrics.Gauge
    private let freeBytes: CoreMetrics.Gauge
    private let sizeBytes: CoreMetrics.Gauge

    /// Latency buckets of `edfs_request_duration_seconds`: from a fast control request to a large object's transfer.
    static let durationBuckets: [Duration] = [
        .milliseconds(1), .milliseconds(5), .milliseconds(10), .milliseconds(25), .milliseconds(50),
        .milliseconds(100), .milliseconds(250), .milliseconds(500), .seconds(1), .milliseconds(2500), .seconds(5),
        .seconds(10), .seconds(30), .seconds(60),
    ]

    /// A fresh registry with every metric of a node that is not labelled by request, login failure or scrub result.
    public init() {
        let registry = PrometheusCollectorRegistry()
        var factory = PrometheusMetricsFactory(registry: registry)
        factory.defaultDurationHistogramBuckets = Self.durationBuckets
        self.registry = registry
        self.factory = factory
        func counter(_ name: String) -> CoreMetrics.Counter { CoreMetrics.Counter(label: name, factory: factory) }
        func gauge(_ name: String, _ dimensions: [(String, String)] = []) -> CoreMetrics.Gauge {
            CoreMetrics.Gauge(label: name, dimensions: dimensions, factory: factory)
        }
        networkReceived = counter("edfs_network_received_bytes_total")
        networkSent = counter("edfs_network_sent_bytes_total")
        objectReceived = counter("edfs_object_received_bytes_total")
        objectSent = counter("edfs_object_sent_bytes_total")
        connectionsAccepted = counter("edfs_connections_accepted_total")
        connectionsDisplaced = counter("edfs_connections_displaced_total")
        scrubCheckedFiles = counter("edfs_scrub_checked_files_total")
        scrubCorruptFiles = counter("edfs_scrub_corrupt_files_total")
        scrubReclaimedBytes = counter("edfs_scrub_reclaimed_bytes_total")
        scrubLastFinished = gauge("edfs_scrub_last_finished_timestamp_seconds")
        scrubLastDuration = gauge("edfs_scrub_last_duration_seconds")
        scrubLastCorrupt = gauge("edfs_scrub_last_corrupt_files")
        connectionsUnauthenticated = gauge("edfs_connections", [("state", "unauthenticated")])
        connectionsLoggedIn = gauge("edfs_connections", [("state", "logged_in")])
        throttledPairs = gauge("edfs_login_throttled_pairs")
        throttledAddresses = gauge("edfs_login_throttled_addresses")
        users = gauge("edfs_users")
        storedObjects = gauge("edfs_stored_objects")
        storedManifests = gauge("edfs_stored_manifests")
        storedBytes = gauge("edfs_stored_bytes")
        freeBytes = gauge("edfs_filesystem_free_bytes")
        sizeBytes = gauge("edfs_filesystem_size_bytes")
        gauge("edfs_start_time_seconds").record(Self.wallClockSeconds())
        gauge("edfs_build_info", [("version", SoftwareVersion.text)]).record(1)
    }

    /// Seconds since 1970 (UTC), now.
    static func wallClockSeconds() -> Double {
        var now = timespec()
        clock_gettime(CLOCK_REALTIME, &now)
        return Double(now.tv_sec) + Double(now.tv_nsec) / 1e9
    }

    // MARK: Recording

    /// One request answered (or cancelled, or abandoned) after `duration`.
    func request(_ type: RequestTypeLabel, _ result: RequestResultLabel, duration: Duration) {
        let key = type.rawValue + " " + result.rawValue
        let counter = requestCounters.withLock { table in
            if let counter = table[key] { return counter }
            let made = CoreMetrics.Counter(label: "edfs_requests_total",
                                           dimensions: [("type", type.rawValue), ("result", result.rawValue)],
                                           factory: factory)
            table[key] = made
            return made
        }
        counter.increment()
        let timer = requestTimers.withLock { table in
            if let timer = table[type] { return timer }
            let made = CoreMetrics.Timer(label: "edfs_request_duration_seconds", dimensions: [("type", type.rawValue)],
                                         factory: factory)
            table[type] = made
            return made
        }
        let (seconds, attoseconds) = duration.components
        timer.recordNanoseconds(seconds * 1_000_000_000 + attoseconds / 1_000_000_000)
    }

    /// A failed login, answered with `code`.
    func loginFailed(_ code: WireErrorCode) {
        labelled(loginFailures, "edfs_login_failures_total", "reason", LoginFailureLabel(code).rawValue).increment()
    }

    /// A periodic scrub finished with `report`.
    func scrubFinished(_ report: ScrubReport) {
        let result: ScrubResultLabel = report.interrupted ? .interrupted : (report.isClean ? .clean : .corrupt)
        labelled(scrubRuns, "edfs_scrubs_total", "result", result.rawValue).increment()
        scrubCheckedFiles.increment(by: report.filesChecked)
        scrubCorruptFiles.increment(by: report.corrupt.count)
        scrubReclaimedBytes.increment(by: Int64(clamping: report.bytesReclaimed))
        scrubLastFinished.record(report.startedAt + report.durationSeconds)
        scrubLastDuration.record(report.durationSeconds)
        scrubLastCorrupt.record(report.corrupt.count)
    }

    /// A periodic scrub failed before it finished.
    func scrubFailed() {
        labelled(scrubRuns, "edfs_scrubs_total", "result", ScrubResultLabel.failed.rawValue).increment()
    }

    private func labelled(_ table: PthreadMutex<[String: CoreMetrics.Counter]>, _ name: String, _ label: String,
                          _ value: String) -> CoreMetrics.Counter {
        table.withLock { table in
            if let counter = table[value] { return counter }
            let made = CoreMetrics.Counter(label: name, dimensions: [(label, value)], factory: factory)
            table[value] = made
            return made
        }
    }

    // MARK: Scrape-time gauges

    /// Connections in each pool now.
    func setConnections(unauthenticated: Int, loggedIn: Int) {
        connectionsUnauthenticated.record(unauthenticated)
        connectionsLoggedIn.record(loggedIn)
    }

    /// Throttled logins now.
    func setThrottled(pairs: Int, addresses: Int) {
        throttledPairs.record(pairs)
        throttledAddresses.record(addresses)
    }

    /// What the data folder holds.
    func setStorage(_ usage: StorageUsage) {
        users.record(usage.users)
        storedObjects.record(usage.objects)
        storedManifests.record(usage.manifests)
        storedBytes.record(Double(usage.storedBytes))
        freeBytes.record(Double(usage.freeBytes))
        sizeBytes.record(Double(usage.totalBytes))
    }

    /// The metrics in the Prometheus text format (version 0.0.4).
    public func exposition() -> [UInt8] { registry.emitToBuffer() }
}
