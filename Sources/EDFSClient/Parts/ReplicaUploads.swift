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
        let started = await session.fanOut.run(on: targets) { _, link in
            try await link.beginPut(object: header.objectName, length: header.objectLength)
        }
        for (node, error) in started.failures {
            session.notices.add("node \(session.nodeName(node)): cannot store stripe \(header.stripeIndex): \(error)")
        }
        let uploads = ReplicaUploads(session: session, header: header, quorum: quorum, hint: hint,
                                     uploads: started.values.map { ($0.node, $0.value) })
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
                                         + "it needs; \(hint)")
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
            session.notices.add("node \(session.nodeName(uploads[index].node)): stripe \(header.stripeIndex) upload "
                                + "failed: \(error)")
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
            session.notices.add("node \(session.nodeName(uploads[index].node)): stripe \(header.stripeIndex) not stored: \(error)")
        }
        let nodes = acknowledged.succeeded.map { uploads[$0].node }.sorted()
        self.uploads.withLock { $0 = [] }
        guard nodes.count >= quorum else {
            throw ClientError.notEnoughNodes("stripe \(header.stripeIndex) was stored on \(nodes.count) node(s), "
                                             + "it needs \(quorum); \(hint)")
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
