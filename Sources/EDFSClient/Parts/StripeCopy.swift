import EDFSFormat
import NIOCore

/// Reads one stripe's stored object from one replica and checks every GCM tag on the way (the plaintext is
/// discarded); optionally streams the same ciphertext, byte for byte, to other nodes of the stripe. A copy counts
/// only once the whole source verified: a source that fails part-way cancels the uploads, and the targets store
/// nothing.
struct StripeCopy: Sendable {
    let session: ClusterSession

    /// Verifies `record`'s stripe `stripe` on node `source` end to end; throws what failed (a `StripeError`,
    /// `NodeLinkError`, or the deadline). With `targets`, returns the nodes that then stored the copy durably.
    /// `verified` hears the plaintext bytes of each batch that verified.
    @discardableResult
    func copy(_ record: ManifestRecord, stripe: Int, from source: Int, to targets: [Int] = [],
              verified: (@Sendable (Int) -> Void)? = nil) async throws -> [Int] {
        let header = try record.stripeHeader(stripe)
        guard let link = session.links[source] else { throw NodeLinkError.unreachable("not connected") }
        let work = try StripeOpenWork(header: header, dataKey: record.body.dataKey,
                                      batchSegments: TransferTuning.segmentsPerBatch(segmentSize: Int(header.segmentSize)))
        let download = try await withDeadline(RequestDeadline.seconds, link.nodeName) {
            try await link.get(object: header.objectName, offset: 0, length: nil)
        }
        guard download.objectLength == header.objectLength else {
            await download.cancel()
            if download.objectLength > header.objectLength { throw StripeError.trailingBytes }
            throw StripeError.truncated(expected: header.objectLength, received: download.objectLength)
        }
        var uploads: ReplicaUploads?
        do {
            if !targets.isEmpty {
                uploads = try await ReplicaUploads.begin(session: session, header: header, targets: targets, quorum: 1,
                                                         hint: "the other replicas are unchanged")
            }
            while let chunk = try await StripeDownload.next(of: download, timeout: RequestDeadline.replicaStallSeconds) {
                try await uploads?.send(chunk)
                var rest = chunk
                while rest.readableBytes > 0 {
                    try rest.readWithUnsafeReadableBytes { bytes in try work.absorb(bytes) }
                    if work.batchIsFull {
                        let opened = try work.deliverBatch { _, _ in }  // opened and verified as it arrived
                        verified?(opened)
                    }
                }
            }
            if work.hasPartialBatch {
                let opened = try work.deliverBatch { _, _ in }
                verified?(opened)
            }
            try work.opener.finish()
        } catch {
            await download.cancel()
            await uploads?.cancel()
            throw error
        }
        return try await uploads?.finish() ?? []
    }
}
