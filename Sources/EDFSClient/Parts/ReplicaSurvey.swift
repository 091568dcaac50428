import EDFSCrypto
import EDFSFormat

/// What one node holds of one stripe.
public enum ReplicaState: String, Sendable, Codable, Equatable {
    /// Stored with the right length (and, when the data was read, every tag verified).
    case ok
    /// The node answered and does not have it.
    case missing
    /// Stored with another length than the manifest's stripe needs.
    case wrongSize = "wrong-size"
    /// Read and failed verification (a GCM tag, the header, or the node's own checksum).
    case corrupt
    /// The node did not answer: unknown.
    case unreachable
}

/// The replicas of one stripe of one file version, by node index, in placement order (primary first).
struct StripeSurvey: Sendable {
    var stripe: Int
    var replicas: [(node: Int, state: ReplicaState, storedLength: UInt64?)]

    var good: [Int] { replicas.filter { $0.state == .ok }.map(\.node) }
    /// Reachable nodes of the placement that need a new copy.
    var needing: [Int] { replicas.filter { [.missing, .wrongSize, .corrupt].contains($0.state) }.map(\.node) }
}

/// Where the replicas of a file version are, judged from the nodes' object listings and, with `readData`, by
/// reading every replica through its GCM tags.
struct ReplicaSurvey: Sendable {
    let session: ClusterSession
    let inventory: ClusterInventory

    /// With `readData`, `progress` hears the bytes verified; every replica not read (or not to the end) is taken out
    /// of its byte total, which the caller counted as stripe length × replicas.
    func survey(_ record: ManifestRecord, readData: Bool, progress: TransferProgress? = nil) async throws -> [StripeSurvey] {
        var stripes = [StripeSurvey]()
        let answered = Set(inventory.answeredNodes(session))
        for stripe in 0..<record.stripeCount {
            let header = try record.stripeHeader(stripe)
            var replicas = [(node: Int, state: ReplicaState, storedLength: UInt64?)]()
            for node in try record.nodes(ofStripe: stripe) {
                guard answered.contains(node), let objects = inventory.objectsByNode[node] else {
                    replicas.append((node, .unreachable, nil))
                    continue
                }
                guard let length = objects[header.objectName] else {
                    replicas.append((node, .missing, nil))
                    continue
                }
                if length == UInt64.max {
                    // The node's listing of a stored file whose footer does not check out: damaged on its disk.
                    replicas.append((node, .corrupt, nil))
                } else {
                    replicas.append((node, length == header.objectLength ? .ok : .wrongSize, length))
                }
            }
            if readData {
                let unread = replicas.filter { $0.state != .ok }.count
                progress?.removeFromTotal(bytes: UInt64(unread) * header.plaintextLength)
                for index in replicas.indices where replicas[index].state == .ok {
                    let counted = PthreadMutex<UInt64>(0)
                    do {
                        try await StripeCopy(session: session).copy(record, stripe: stripe, from: replicas[index].node,
                                                                    verified: { bytes in
                            counted.withLock { $0 += UInt64(bytes) }
                            progress?.advance(bytes)
                        })
                    } catch {
                        progress?.removeFromTotal(bytes: header.plaintextLength - min(header.plaintextLength,
                                                                                       counted.withLock { $0 }))
                        if StripeDownload.isIntegrityFailure(error) {
                            replicas[index].state = .corrupt
                        } else {
                            replicas[index].state = .unreachable
                        }
                        session.notices.add("stripe \(stripe) of \(record.body.name) on "
                                            + "\(session.nodeName(replicas[index].node)): \(error)")
                    }
                }
            }
            stripes.append(StripeSurvey(stripe: stripe, replicas: replicas))
        }
        return stripes
    }
}
