import EDFSClient
import Testing

/// Checks a node with `NodeLimits.maxConnections` 2: two connections are served, a third is refused with
/// `limit exceeded`, and once the first closes a new one is served again.
func expectCapOfTwoConnections(nodeName: String, connect: () async throws -> NodeConnection) async throws {
    let first = try await connect()
    let second = try await connect()
    do {
        _ = try await connect()
        Issue.record("a third connection was served")
    } catch {
        #expect("\(error)".contains("limit exceeded"), "got \(error)")
    }
    await first.close()
    // The slot frees once the node has seen the close.
    var third: NodeConnection?
    for _ in 0..<50 where third == nil {
        third = try? await connect()
        if third == nil { try await Task.sleep(for: .milliseconds(20)) }
    }
    let connection = try #require(third)
    #expect(try await connection.status().nodeName == nodeName)
    await connection.close()
    await second.close()
}
