import EDFSClient
import EDFSFormat
import EDFSNode
import EDFSTestSupport
import Foundation
import Testing

/// Attack-10 findings against the client library (in process). A failing test here reproduces an open finding.
@Suite("Attack regressions: client", .serialized)
struct AttackClientRegressionTests {
    /// FINDING (medium, fails today): one node that serves a keyslot whose header claims a newer revision but whose
    /// bundle tag does not verify (a lying node, or any client holding MD5(password) that PUT_KEYSLOTs such bytes —
    /// the node checks headers only) locks the user out of every operation with "this is the old password …",
    /// although three nodes hold the good keyslot. SECURITY.md promises availability unless a node *majority* lies;
    /// a garbage (undecodable) keyslot on the same node is skipped correctly.
    @Test("a forged newer-revision keyslot on one node does not lock the user out")
    func forgedNewerKeyslotOnOneNode() async throws {
        try await withCluster(.inProcess, nodes: 4, replicas: 2) { cluster in
            let content = try randomContent(200_000)
            try await cluster.withSession { session in
                _ = try await PutOperation(session).run(file: cluster.writeScratch("src", content), as: "f")
            }
            let node = try #require((cluster as? InProcessCluster)?.node(0))
            var forged = try node.metadata.getKeyslot(user: cluster.user)
            // Header offset 32..<40: revision (FORMAT.md §4). Bump it; the bundle tag (AAD covers the header) now fails.
            let revision = UInt64(1) << 40
            for i in 0..<8 { forged[32 + i] = UInt8(truncatingIfNeeded: revision >> (8 * (7 - i))) }
            try node.metadata.putKeyslot(user: cluster.user, bytes: forged)  // accepted: the node sees a newer header

            let out = cluster.scratch("out")
            try await cluster.withSession { session in
                try await GetOperation(session).run(name: "f", to: .file(out))
            }
            #expect(try Array(Data(contentsOf: URL(fileURLWithPath: out))) == content)
        }
    }
}
