import EDFSClient
import EDFSCrypto
import EDFSFormat
import EDFSNode
import EDFSTestSupport
import Foundation
import Logging
import Testing

/// A temporary folder, removed by `remove()`.
struct TemporaryDirectory: Sendable {
    let path: String

    init() throws {
        path = NSTemporaryDirectory() + "edfs-node-test-" + UUID().uuidString
        try FileManager.default.createDirectory(atPath: path, withIntermediateDirectories: true)
    }

    func remove() { try? FileManager.default.removeItem(atPath: path) }

    /// Every file path below the folder, relative to it.
    func allFiles() -> [String] {
        guard let enumerator = FileManager.default.enumerator(atPath: path) else { return [] }
        var files: [String] = []
        while let next = enumerator.nextObject() as? String {
            var isDirectory: ObjCBool = false
            if FileManager.default.fileExists(atPath: path + "/" + next, isDirectory: &isDirectory), !isDirectory.boolValue {
                files.append(next)
            }
        }
        return files.sorted()
    }
}

/// Users every test node knows: name → password.
let testUsers = ["rohan": "rohan", "alice": "alice-secret", "bob": "bob-secret"]

func md5(_ password: String) -> [UInt8] { Digest.md5(password) }

/// A node running in this process on a loopback port, with certificates generated for the test.
final class TestNode: Sendable {
    let directory: TemporaryDirectory
    let keys: String
    let dataDirectory: String
    let node: StorageNode
    let port: Int
    let trust: NodeTLSTrust

    /// Generates a CA and a certificate for node "N1" (hosts 127.0.0.1 and localhost), starts the node.
    init(limits: NodeLimits = NodeLimits(), hosts: [String] = ["127.0.0.1", "localhost"],
         scramUsers: [String: SCRAMVerifier] = [:],
         configure: (inout NodeConfiguration) -> Void = { _ in }) async throws {
        // A whole suite's nodes and clients share 2 cores: the default login deadline leaves too little room for TLS
        // and PBKDF2 when many tests log in at once. Tests of the deadline set their own.
        let limits = limits.withTestLoginDeadline
        directory = try TemporaryDirectory()
        keys = directory.path + "/Keys"
        dataDirectory = directory.path + "/data"
        try DevelopmentPKI.initialize(directory: keys, nodeNames: ["N1"], hosts: hosts, force: false)
        var users: [String: [UInt8]] = [:]
        for (user, password) in testUsers { users[user] = md5(password) }
        var configuration = NodeConfiguration(
            name: "N1", host: "127.0.0.1", port: 0, dataDirectory: dataDirectory,
            certificateFile: keys + "/N1.crt", privateKeyFile: keys + "/N1.key", caFile: keys + "/ca.crt",
            users: users, limits: limits)
        configuration.scramUsers = scramUsers
        configure(&configuration)
        var logger = Logger(label: "test-node")
        logger.logLevel = .critical
        node = try StorageNode(configuration: configuration, logger: logger)
        let address = try await node.start()
        port = try #require(address.port)
        trust = try NodeTLSTrust(caFile: keys + "/ca.crt")
    }

    /// A logged-in connection (its connect and handshake deadlines times `TestTime.scale`).
    func connect(_ user: String = "alice", options: NodeConnection.Options = .init()) async throws -> NodeConnection {
        let password = try #require(testUsers[user])
        return try await NodeConnection.open(host: "127.0.0.1", port: port, trust: trust, user: user,
                                             passwordDigest: md5(password), options: options.scaledForTests)
    }

    /// Stops the node and removes its folder.
    func stop() async {
        await node.shutdown()
        directory.remove()
    }

    /// Temporary files in the data directory.
    func temporaryFiles() -> [String] { directory.allFiles().filter { $0.contains("/.tmp-") } }

    /// Waits (polling, at most `seconds`) until `condition` holds; returns whether it did.
    func eventually(seconds: Double = 5, _ condition: () -> Bool) async -> Bool {
        await EDFSNodeTests.eventually(seconds: seconds, condition)
    }

    /// Checks that a fresh, well-behaved client is still served: put, get, delete.
    func assertServesGoodClient(sourceLocation: SourceLocation = #_sourceLocation) async throws {
        let connection = try await connect("rohan")
        let bytes = randomBytes(1000)
        try await connection.putObject("health-check", bytes: bytes)
        #expect(try await connection.getObject("health-check") == bytes, sourceLocation: sourceLocation)
        try await connection.delete(object: "health-check")
        await connection.close()
    }
}

/// Waits (polling, at most `seconds` times `TestTime.scale`) until `condition` holds; returns whether it did.
func eventually(seconds: Double = 5, _ condition: () -> Bool) async -> Bool {
    let deadline = Date().addingTimeInterval(TestTime.scaled(seconds: seconds))
    while Date() < deadline {
        if condition() { return true }
        try? await Task.sleep(for: .milliseconds(10))
    }
    return condition()
}

/// Runs `body` with a fresh node and always stops it.
func withNode<T>(limits: NodeLimits = NodeLimits(), _ body: (TestNode) async throws -> T) async throws -> T {
    let node = try await TestNode(limits: limits)
    do {
        let result = try await body(node)
        await node.stop()
        return result
    } catch {
        await node.stop()
        throw error
    }
}

/// Flips bits of one byte of the file at `path`, at `offset` (`mask` 0x20 turns a magic's capital letter lowercase).
func flipByte(_ path: String, at offset: UInt64, mask: UInt8 = 0x01) throws {
    let handle = try #require(FileHandle(forUpdatingAtPath: path))
    defer { try? handle.close() }
    try handle.seek(toOffset: offset)
    let byte = try #require(try handle.read(upToCount: 1)?.first)
    try handle.seek(toOffset: offset)
    try handle.write(contentsOf: [byte ^ mask])
}

func randomBytes(_ count: Int) -> [UInt8] {
    var generator = SystemRandomNumberGenerator()
    var bytes = [UInt8](repeating: 0, count: count)
    var index = 0
    while index < count {
        var word = generator.next() as UInt64
        for _ in 0..<8 where index < count {
            bytes[index] = UInt8(truncatingIfNeeded: word)
            word >>= 8
            index += 1
        }
    }
    return bytes
}

/// The wire error code inside a client error, if the node refused.
func nodeCode(_ error: any Error) -> WireErrorCode? {
    switch error {
    case NodeLinkError.notFound: return .notFound
    case NodeLinkError.stale: return .staleVersion
    case NodeLinkError.checksumMismatch: return .checksumMismatch
    case NodeLinkError.authenticationFailed: return .authenticationFailed
    case NodeLinkError.throttled: return .throttled
    case let NodeLinkError.refused(code, _): return code
    default: return nil
    }
}

/// Runs `body`, expecting the node to refuse with `code`.
func expectRefusal(_ code: WireErrorCode, sourceLocation: SourceLocation = #_sourceLocation,
                   _ body: () async throws -> Void) async {
    do {
        try await body()
        Issue.record("expected the node to refuse with \(code), but it succeeded", sourceLocation: sourceLocation)
    } catch {
        #expect(nodeCode(error) == code, "got \(error)", sourceLocation: sourceLocation)
    }
}
