import EDFSClient
import EDFSCrypto
import EDFSNode
import EDFSTestSupport
import Foundation
import Testing

/// The hermetic seam itself: sessions over in-process nodes, a node stopped and restarted on its folder, logins
/// refused for a wrong password, and nothing left behind.
@Suite("In-process cluster")
struct InProcessClusterTests {
    @Test("put, node stopped, get, restart keeps the data, wrong password refused, folder removed")
    func clusterPutGetStopRestart() async throws {
        let cluster = try InProcessCluster(nodes: 4, users: ["tester": "correct horse battery"])
        let bytes = try randomContent(200_000)
        let path = cluster.directory + "/input"
        try Data(bytes).write(to: URL(fileURLWithPath: path))
        let session = try await ClusterSession.open(config: cluster.config, user: "tester",
                                                    password: SecureBytes(copying: Array("correct horse battery".utf8)),
                                                    connector: cluster.connector(user: "tester"), kdfIterations: 100_000)
        _ = try await PutOperation(session).run(file: path, as: "doc")
        await session.close()
        await cluster.stop(node: 1)
        #expect(!cluster.isRunning(node: 1))
        do { _ = try await cluster.connect(node: 1, user: "tester"); Issue.record("stopped node served") } catch {}
        let again = try await ClusterSession.open(config: cluster.config, user: "tester",
                                                  password: SecureBytes(copying: Array("correct horse battery".utf8)),
                                                  connector: cluster.connector(user: "tester"), kdfIterations: 100_000)
        _ = try await GetOperation(again).run(name: "doc", to: .file(cluster.directory + "/out1"))
        await again.close()
        #expect(try Data(contentsOf: URL(fileURLWithPath: cluster.directory + "/out1")) == Data(bytes))
        try await cluster.restart(node: 1)
        let link = try await cluster.connect(node: 1, user: "tester")
        #expect(try await link.getKeyslot() != nil)
        await link.close()
        #expect(FileManager.default.fileExists(atPath: cluster.dataDirectory(node: 1) + "/users/tester"))
        do { _ = try await cluster.connect(node: 0, user: "tester", password: "wrong"); Issue.record("wrong password") } catch {
            #expect(error as? NodeLinkError != nil, "\(error)")
        }
        let dir = cluster.directory
        await cluster.shutdown()
        #expect(!FileManager.default.fileExists(atPath: dir))
    }
}
