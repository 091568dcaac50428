import EDFSCrypto
import EDFSFormat
import NIOCore

/// One stripe object streaming to its replicas at once. A replica that fails is dropped and reported; the upload
/// fails as soon as fewer than `quorum` replicas remain, and the nodes then store nothing.
final class ReplicaUploads: Sendable {
    let session: ClusterSession
    let header: StripeHeader
    let quorum: Int
    /// What the user is told to do when the stripe cannot be stored.
    let hint: String
    private let uploads: PthreadMutex<[(node: Int, upload: any ObjectUpload)]>
    /// Nodes that refused the object because their disk is full: the remedy is space, not starting nodes.
    private let fullNodes = PthreadMutex(Set<Int>())

    private init(session: ClusterSession, header: StripeHeader, quorum: Int, hint: String,
                 uploads: [(node: Int, upload: any ObjectUpload)]) {
        self.session = session
        self.header = header
        self.quorum = quorum
        self.hint = hint
        self.uploads = PthreadMutex(uploads)
    }

    /// Starts the object on every reachable node of `targets`; throws when fewer than `quorum` start.
    static func begin(session: ClusterSession, header: StripeHeader, targets: [Int], quorum: Int,
                      hint: String) async throws -> ReplicaUploads {
        // One node after another, in ascending order: starting a request may wait for a free request slot on its
        // connection (the node's MaxStreams, NodeConnectionRouter.requestSlots), and two uploads that each held one
        // replica's slot while waiting for the other's would wait for ever. Taken in one global order, no two can.
        var begun = [(node: Int, upload: any ObjectUpload)]()
        var failures = [(node: Int, error: any Error)]()
        for node in targets.sorted() {
            let started = await session.fanOut.run(on: [node]) { _, link in
                try await link.beginPut(object: header.objectName, length: header.objectLength)
            }
            begun += started.values.map { ($0.node, $0.value) }
            failures += started.failures
        }
        let uploads = ReplicaUploads(session: session, header: header, quorum: quorum, hint: hint, uploads: begun)
        for (node, error) in failures {
            uploads.report(node: node, error, "cannot store stripe \(header.stripeIndex)")
        }
        try await uploads.requireQuorum()
        return uploads
    }

    /// The replicas still taking the object.
    var current: [(node: Int, upload: any ObjectUpload)] { uploads.withLock { $0 } }

    private func requireQuorum() async throws {
        let count = current.count
        guard count < quorum else { return }
        await cancel()
        throw ClientError.notEnoughNodes("stripe \(header.stripeIndex) reached \(count) of the \(quorum) nodes "
                                         + "it needs; \(remedy)")
    }

    /// The hint, or for nodes whose disk is full, what frees the put.
    private var remedy: String {
        let full = fullNodes.withLock { $0 }.sorted()
        guard !full.isEmpty else { return hint }
        return "\(hint): \(full.map(session.nodeName).joined(separator: ", ")) \(full.count == 1 ? "has" : "have") no space "
            + "left; free space there or give the cluster more room (edfs status shows each node's free space)"
    }

    /// Says on stderr why `node` dropped out (nothing for a cancellation: that follows another failure, said already)
    /// and remembers a full disk.
    private func report(node: Int, _ error: any Error, _ what: String) {
        if error is CancellationError { return }
        if case let .refused(code, _)? = error as? NodeLinkError, code == .storageFull {
            fullNodes.withLock { _ = $0.insert(node) }
        }
        session.notices.add("node \(session.nodeName(node)): \(what): \(error)")
    }

    /// Writes `chunk` to every replica at once (each under the request deadline); a replica that fails is cancelled.
    func send(_ chunk: ByteBuffer) async throws {
        let uploads = current
        let written = await NodeFanOut.run(indices: uploads.indices.map { $0 }, deadline: RequestDeadline.seconds,
                                           label: { [session] in session.nodeName(uploads[$0].node) }) { index in
            try await uploads[index].upload.write(chunk)
        }
        for (index, error) in written.failures {
            session.lost.note(uploads[index].node, error)
            report(node: uploads[index].node, error, "stripe \(header.stripeIndex) upload failed")
            await uploads[index].upload.cancel()
        }
        let kept = written.succeeded.map { uploads[$0] }
        self.uploads.withLock { $0 = kept }
        try await requireQuorum()
    }

    /// Waits for every replica's durable acknowledgement; returns the nodes that have the object (at least `quorum`).
    func finish() async throws -> [Int] {
        let uploads = current
        let acknowledged = await NodeFanOut.run(indices: uploads.indices.map { $0 }, deadline: RequestDeadline.seconds,
                                                label: { [session] in session.nodeName(uploads[$0].node) }) { index in
            try await uploads[index].upload.finish()
        }
        for (index, error) in acknowledged.failures {
            session.lost.note(uploads[index].node, error)
            report(node: uploads[index].node, error, "stripe \(header.stripeIndex) not stored")
        }
        let nodes = acknowledged.succeeded.map { uploads[$0].node }.sorted()
        self.uploads.withLock { $0 = [] }
        guard nodes.count >= quorum else {
            throw ClientError.notEnoughNodes("stripe \(header.stripeIndex) was stored on \(nodes.count) node(s), "
                                             + "it needs \(quorum); \(remedy)")
        }
        return nodes
    }

    /// Abandons every replica still open; the nodes store nothing.
    func cancel() async {
        let open = uploads.withLock { s in
            defer { s = [] }
            return s
        }
        for (_, upload) in open { await upload.cancel() }
    }
}
