import EDFSClient
import EDFSTestSupport
import Testing

/// What a user is told when every node is up but refuses one more of the user's connections.
@Suite("Connection limits")
struct ConnectionLimitTests {
    @Test("every node refusing one more connection of the user: the message says they are up and what to do (attack finding)")
    func everyNodeAtTheUserLimit() async throws {
        let cluster = try InProcessCluster(nodes: 4, users: ["alice": "correct horse battery"],
                                           nodeSettings: ["MaxConnectionsPerUser": "1"])
        defer { Task { await cluster.shutdown() } }
        let first = try await cluster.session()
        do {
            _ = try await cluster.session()
            Issue.record("a second session was served with MaxConnectionsPerUser 1")
        } catch let error as ClientError {
            let text = String(describing: error)
            #expect(text.contains("every node refused the connection") && text.contains("limit exceeded"), "\(text)")
            #expect(!text.contains("start the nodes"), "\(text)")
        }
        await first.close()
        // Once the first session is gone, a new one is served.
        try await cluster.withSession { _ in }
    }
}
