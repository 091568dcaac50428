import EDFSClient
import EDFSCrypto
import EDFSFormat
import EDFSNode
import EDFSTestSupport
import Foundation
import Logging
import Testing

/// A node made for in-process use (no certificate, never listens) on a temporary data folder, reached by real
/// `NodeConnection`s over socket pairs.
final class InProcessTestNode: Sendable {
    let directory: TemporaryDirectory
    let configuration: NodeConfiguration
    let node: StorageNode

    init(limits: NodeLimits = NodeLimits(), directory: TemporaryDirectory? = nil) throws {
        let directory = try directory ?? TemporaryDirectory()
        self.directory = directory
        var users: [String: [UInt8]] = [:]
        for (user, password) in testUsers { users[user] = md5(password) }
        configuration = NodeConfiguration(
            name: "L1", host: "127.0.0.1", port: 0, dataDirectory: directory.path + "/data",
            certificateFile: directory.path + "/missing.crt", privateKeyFile: directory.path + "/missing.key",
            caFile: directory.path + "/missing-ca.crt", users: users, limits: limits.withTestLoginDeadline)
        var logger = Logger(label: "test-node")
        logger.logLevel = .critical
        node = try StorageNode(inProcess: configuration, logger: logger)
    }

    /// A logged-in connection over a fresh socket pair.
    func connect(_ user: String = "alice", password: String? = nil) async throws -> NodeConnection {
        let secret = try password ?? #require(testUsers[user])
        return try await NodeConnection.open(localDescriptor: try await node.openLocalSocket(), label: "L1 in-process",
                                             user: user, passwordDigest: md5(secret), options: .forTests)
    }
}

/// Runs `body` with a fresh in-process node; always shuts it down and removes its folder.
@discardableResult
func withInProcessNode<T>(limits: NodeLimits = NodeLimits(),
                          _ body: (InProcessTestNode) async throws -> T) async throws -> T {
    let node = try InProcessTestNode(limits: limits)
    defer { node.directory.remove() }
    do {
        let result = try await body(node)
        await node.node.shutdown()
        return result
    } catch {
        await node.node.shutdown()
        throw error
    }
}

/// The real node session and store and the real client over `socketpair(AF_UNIX)`: no port, TLS or process.
@Suite struct InProcessSeamTests {
    @Test func loginWithRightAndWrongPassword() async throws {
        try await withInProcessNode { node in
            let connection = try await node.connect("alice")
            #expect(connection.nodeName == "L1")
            #expect(try await connection.status().nodeName == "L1")
            await connection.close()
            await expectRefusal(.authenticationFailed) { _ = try await node.connect("alice", password: "wrong") }
            await expectRefusal(.authenticationFailed) { _ = try await node.connect("mallory", password: "x") }
        }
    }

    @Test func putGetStatAndDelete() async throws {
        try await withInProcessNode { node in
            let connection = try await node.connect()
            for size in [0, 1, (1 << 20) + 1, 5 * (1 << 20) / 2] {
                let bytes = randomBytes(size)
                try await connection.putObject("object-\(size)", bytes: bytes)
                #expect(try await connection.getObject("object-\(size)") == bytes)
                #expect(try await connection.getObject("object-\(size)", offset: UInt64(size / 2), length: 10)
                    == Array(bytes[(size / 2)..<min(size, size / 2 + 10)]))
                #expect(try await connection.stat(object: "object-\(size)", verify: true).checksumState == .verified)
            }
            #expect(try await connection.listObjects().count == 4)
            try await connection.delete(object: "object-1")
            await expectRefusal(.notFound) { _ = try await connection.getObject("object-1") }
            await connection.close()
        }
    }

    @Test func manifestsKeyslotAndVerifierRoundTrip() async throws {
        try await withInProcessNode { node in
            let connection = try await node.connect("bob")
            let id = try randomManifestID()
            let v2 = try testManifest(id: id, version: 2)
            try await connection.putManifest(id.hex, bytes: v2)
            #expect(try await connection.getManifest(id.hex) == v2)
            await expectRefusal(.staleVersion) { try await connection.putManifest(id.hex, bytes: try testManifest(id: id, version: 2)) }
            #expect(try await connection.listManifests() == [id.hex: UInt64(v2.count)])

            let slot = try testKeyslot(epoch: 1, revision: 1)
            try await connection.putKeyslot(slot)
            try await connection.putKeyslot(slot)  // a byte-identical retry is fine
            #expect(try await connection.getKeyslot() == slot)
            await expectRefusal(.staleVersion) { try await connection.putKeyslot(try testKeyslot(epoch: 1, revision: 1)) }
            let newer = try testKeyslot(epoch: 1, revision: 2)
            try await connection.putKeyslot(newer)
            #expect(try await connection.getKeyslot() == newer)

            // SET_VERIFIER's typed fields: the new password logs in, the old one no longer does.
            try await connection.setLoginVerifier(digest: md5("bob-new"))
            await connection.close()
            let again = try await node.connect("bob", password: "bob-new")
            await again.close()
            await expectRefusal(.authenticationFailed) { _ = try await node.connect("bob") }
        }
    }

    @Test func aStoppedNodeRestartedOnItsFolderKeepsItsData() async throws {
        let first = try InProcessTestNode()
        defer { first.directory.remove() }
        let bytes = randomBytes(300_000)
        let id = try randomManifestID()
        let manifest = try testManifest(id: id, version: 7)
        let connection = try await first.connect()
        try await connection.putObject("kept", bytes: bytes)
        try await connection.putManifest(id.hex, bytes: manifest)
        await first.node.shutdown()
        let afterStop = try? await connection.status()
        #expect(afterStop == nil)
        await expectNoConnection { _ = try await first.connect() }

        let second = try InProcessTestNode(directory: first.directory)
        let reopened = try await second.connect()
        #expect(try await reopened.getObject("kept") == bytes)
        #expect(try await reopened.getManifest(id.hex) == manifest)
        await reopened.close()
        await second.node.shutdown()
    }

    @Test func theConnectionCapStillApplies() async throws {
        var limits = NodeLimits()
        limits.maxConnections = 2
        try await withInProcessNode(limits: limits) { node in
            try await expectCapOfTwoConnections(nodeName: "L1") { try await node.connect() }
        }
    }

    @Test func anInProcessNodeNeverListens() async throws {
        try await withInProcessNode { node in
            await #expect(throws: NodeStartError.self) { try await node.node.start() }
        }
    }
}

/// Runs `body`, expecting it to fail without reaching a node.
func expectNoConnection(sourceLocation: SourceLocation = #_sourceLocation, _ body: () async throws -> Void) async {
    do {
        try await body()
        Issue.record("expected no connection, but it succeeded", sourceLocation: sourceLocation)
    } catch {
        #expect(nodeCode(error) == nil, "got \(error)", sourceLocation: sourceLocation)
    }
}
