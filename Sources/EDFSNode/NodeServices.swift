import EDFSFormat
import EDFSTransport
import Logging
import NIOCore
import NIOPosix

/// What every connection of one node shares: configuration, stores, login guard, blocking-I/O pool, read budget,
/// connection admission, metrics.
struct NodeServices: Sendable {
    let configuration: NodeConfiguration
    let store: ObjectStore
    let metadata: MetadataStore
    let loginGuard: LoginGuard
    let pool: NIOThreadPool
    /// Bytes of block buffers all GETs may hold at once.
    let readBudget: AsyncAllowance
    /// The connection pools and the per-user and per-address caps.
    let admission: ConnectionAdmission
    let logger: Logger
    let started: ContinuousClock.Instant
    /// SHA-256 of the node's TLS certificate (DER), the `tls-server-end-point` channel binding of SCRAM logins;
    /// nil for an in-process node (no TLS: only unbound SCRAM, `n`, is accepted).
    let certificateHash: [UInt8]?
    /// The last periodic scrub's result, for STATUS.
    let scrubRecord: ScrubRecord
    /// The node's own metrics registry (docs/METRICS.md).
    let metrics: NodeMetrics

    var limits: NodeLimits { configuration.limits }

    /// Runs blocking store work on the pool. Failures other than `StoreError` become an I/O error that says which it
    /// was: the request's task cancelled while the work waited (its connection closed), or the pool stopped.
    func blocking<T: Sendable>(_ body: @escaping @Sendable () throws(StoreError) -> T) async throws(StoreError) -> T {
        do {
            return try await pool.runIfActive { () throws -> T in try body() }
        } catch let error as StoreError {
            throw error
        } catch {
            if Task.isCancelled { throw .io("node", "the request was cancelled: its connection closed") }
            throw .io("node", "the node is shutting down")
        }
    }

    /// Logs a request's failure (`what`: "get failed", "put refused"…): a warning, or a debug line when the request's
    /// task was cancelled (its client went away mid-request: nothing for the operator to act on).
    func logFailure(_ what: String, _ error: StoreError, peer: String) {
        let level: Logger.Level = Task.isCancelled ? .debug : .warning
        logger.log(level: level, "\(what): \(error)", metadata: ["peer": "\(peer)"])
    }

    /// The HELLO reply's limits.
    var wireLimits: WireNodeLimits {
        WireNodeLimits(maxFrameLength: UInt32(clamping: limits.maxFrameLength),
                       maxDataPayload: UInt32(clamping: limits.maxDataPayload),
                       maxStreams: UInt16(clamping: limits.maxStreams),
                       maxObjectLength: limits.maxObjectLength)
    }
}
