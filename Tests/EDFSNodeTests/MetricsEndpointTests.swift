import EDFSClient
import EDFSCrypto
import EDFSFormat
import EDFSNode
import EDFSTestSupport
import Foundation
import Logging
import Testing

/// The node's Prometheus endpoint (`MetricsListen:`, docs/METRICS.md), scraped over real HTTP while a real client
/// works against the node over TLS.
@Suite struct MetricsEndpointTests {
    /// A node with the endpoint on an ephemeral loopback port, storage gauges measured at every scrape, a periodic
    /// scrub, and a login throttle that locks a pair after two failures (without the default delays).
    private func withMetricsNode(requestTimeout: Duration = .seconds(5),
                                 _ body: (TestNode, Int) async throws -> Void) async throws {
        var limits = NodeLimits()
        limits.loginThrottle = LoginThrottle(baseDelay: .milliseconds(1), maxDelay: .milliseconds(1), maxFailures: 2)
        let node = try await TestNode(limits: limits) { configuration in
            configuration.metricsListen = try? HostPort(parsing: "127.0.0.1:0", allowPortZero: true)
            configuration.metricsStorageRefresh = .zero
            configuration.scrubInterval = .milliseconds(300)
            configuration.metricsRequestTimeout = requestTimeout
        }
        do {
            let port = try #require(node.node.metricsAddress?.port)
            try await body(node, port)
            await node.stop()
        } catch {
            await node.stop()
            throw error
        }
    }

    @Test("a scrape shows requests by type and result, bytes, logins, connections, storage and scrubs moving")
    func valuesMove() async throws {
        try await withMetricsNode { node, port in
        #expect(node.node.metricsAddress?.ipAddress == "127.0.0.1")

        let before = try await scrape(port: port)
        #expect(before.has("edfs_start_time_seconds") && before.has("edfs_filesystem_free_bytes"))
        #expect(before.value("edfs_build_info", ["version": SoftwareVersion.text]) == 1)
        #expect(before.value("edfs_stored_objects") == 0)

        // Real work: a put and a get of 200 KB, over TLS.
        let connection = try await node.connect("alice")
        let bytes = randomBytes(200_000)
        try await connection.putObject("metrics-object", bytes: bytes)
        #expect(try await connection.getObject("metrics-object") == bytes)
        await expectRefusal(.notFound) { _ = try await connection.getObject("no-such-object") }

        // Two wrong passwords lock the (user, address) pair; a third attempt is throttled.
        for _ in 0..<3 {
            do {
                _ = try await NodeConnection.open(host: "127.0.0.1", port: node.port, trust: node.trust, user: "bob",
                                                  passwordDigest: md5("wrong"), options: NodeConnection.Options().scaledForTests)
                Issue.record("logged in with a wrong password")
            } catch {}
        }

        let during = try await scrape(port: port)
        #expect(during.value("edfs_requests_total", ["type": "put_object", "result": "ok"]) == 1)
        #expect(during.value("edfs_requests_total", ["type": "get_object", "result": "ok"]) == 1)
        #expect(during.value("edfs_requests_total", ["type": "get_object", "result": "not_found"]) == 1)
        #expect(during.value("edfs_requests_total", ["type": "login", "result": "ok"]) >= 1)
        #expect(during.value("edfs_requests_total", ["type": "login", "result": "authentication_failed"]) == 2)
        #expect(during.value("edfs_requests_total", ["type": "login", "result": "throttled"]) == 1)
        #expect(during.value("edfs_login_failures_total", ["reason": "wrong_credentials"]) == 2)
        #expect(during.value("edfs_login_failures_total", ["reason": "throttled"]) == 1)
        #expect(during.value("edfs_login_throttled_pairs") == 1)
        #expect(during.value("edfs_request_duration_seconds_count", ["type": "put_object"]) == 1)
        #expect(during.value("edfs_request_duration_seconds_bucket", ["type": "put_object", "le": "+Inf"]) == 1)
        #expect(during.value("edfs_object_received_bytes_total") == 200_000)
        #expect(during.value("edfs_object_sent_bytes_total") == 200_000)
        #expect(during.value("edfs_network_received_bytes_total") > 200_000)
        #expect(during.value("edfs_network_sent_bytes_total") > 200_000)
        #expect(during.value("edfs_connections", ["state": "logged_in"]) == 1)
        #expect(during.value("edfs_connections_accepted_total") >= 4)
        #expect(during.value("edfs_users") == 1)
        #expect(during.value("edfs_stored_objects") == 1)
        #expect(during.value("edfs_stored_bytes") >= 200_000)
        #expect(during.value("edfs_filesystem_free_bytes") > 0)
        #expect(during.value("edfs_filesystem_size_bytes") >= during.value("edfs_filesystem_free_bytes"))

        // No label carries a user name, an object id or an address.
        for secret in ["alice", "bob", "metrics-object", "127.0.0.1"] {
            #expect(!during.text.contains(secret), "\(secret) appears in the metrics")
        }

        await connection.close()
        #expect(await node.eventually { node.node.scrubsCompleted >= 1 })
        let after = try await scrape(port: port)
        #expect(after.value("edfs_connections", ["state": "logged_in"]) == 0)
        #expect(after.value("edfs_scrubs_total", ["result": "clean"]) >= 1)
        #expect(after.value("edfs_scrub_checked_files_total") >= 1)
        #expect(after.value("edfs_scrub_last_finished_timestamp_seconds") > 1_700_000_000)
        }
    }

    @Test("only GET /metrics is answered; garbage and oversized requests close alone; a cap on connections")
    func endpointIsNotALever() async throws {
        // A request timeout far longer than any step here, so that only the limits under test close connections.
        try await withMetricsNode(requestTimeout: .seconds(25)) { node, port in

        let other = try #require(try await httpGet(port: port, path: "/"))
        #expect(other.status == 404)
        let nested = try #require(try await httpGet(port: port, path: "/metrics/x"))
        #expect(nested.status == 404)
        let post = try #require(try await httpExchange(
            port: port, Array("POST /metrics HTTP/1.1\r\nHost: x\r\nContent-Length: 0\r\n\r\n".utf8)))
        #expect(post.status == 405)

        // Garbage gets a 400 (or nothing) and a close; an oversized request is closed at once, without an answer.
        let garbage = try await httpExchange(port: port, [0, 1, 2, 3] + Array("garbage\r\n\r\n".utf8))
        #expect(garbage == nil || garbage?.status == 400)
        let began = ContinuousClock.now
        let oversized = Array("GET /metrics HTTP/1.1\r\nX-Pad: ".utf8) + [UInt8](repeating: 0x61, count: 16 << 10)
        #expect(try await httpExchange(port: port, oversized) == nil)
        #expect(ContinuousClock.now - began < .seconds(15), "closed by the size limit, not the request timeout")

        // At most 4 connections at once: while 4 idle ones are open, a fifth is closed without an answer. (The
        // node frees an earlier connection's slot just after the client sees it close: if one of the 4 idle ones
        // was refused for that, they are all closed and opened again.)
        var refusedFifth = false
        for _ in 0..<10 where !refusedFifth {
            var idle: [RawClient] = []
            for _ in 0..<4 { idle.append(try await RawClient.connect(port: port, caFile: nil)) }
            try await Task.sleep(for: .milliseconds(300))
            if idle.allSatisfy({ !$0.inbox.inspect { _ in () }.1 }) {
                #expect(try await httpGet(port: port) == nil)
                #expect(idle.allSatisfy { !$0.inbox.inspect { _ in () }.1 }, "the idle connections stay open")
                refusedFifth = true
            }
            for client in idle { await client.close() }
            try await Task.sleep(for: .milliseconds(200))
        }
        #expect(refusedFifth)

        // The endpoint and the node both still serve (the closed connections' slots free up at once).
        var answer: HTTPAnswer?
        for _ in 0..<50 where answer == nil {
            answer = try await httpGet(port: port)
            if answer == nil { try await Task.sleep(for: .milliseconds(100)) }
        }
        #expect(answer?.status == 200)
        try await node.assertServesGoodClient()
        #expect(try await scrape(port: port).value("edfs_requests_total", ["type": "put_object", "result": "ok"]) == 1)
        }
    }

    @Test("a connection that sends no request is closed by the request timeout, alone")
    func idleConnectionIsClosed() async throws {
        try await withMetricsNode(requestTimeout: .seconds(1)) { _, port in
            // A scrape's own connection has the same 1 s to send its request: on a machine loaded far past its cores
            // it can miss that, so a scrape here gets a few tries (the idle connection is what is measured).
            func scrapeHasUsers() async throws -> Bool {
                for _ in 0..<5 {
                    if let answer = try await httpGet(port: port) { return MetricSamples(answer.body).has("edfs_users") }
                }
                return false
            }
            let idle = try await RawClient.connect(port: port, caFile: nil)
            let began = ContinuousClock.now
            #expect(try await scrapeHasUsers())
            #expect(try await idle.receiveAll(timeout: .seconds(20)).isEmpty)
            #expect(ContinuousClock.now - began >= .milliseconds(900), "closed by the timeout, not at once")
            #expect(try await scrapeHasUsers())
        }
    }

    @Test("nodes in one process keep separate registries; without MetricsListen there is no endpoint")
    func registriesArePerNode() async throws {
        try await withMetricsNode { first, _ in
        let second = try await TestNode()
        defer { second.directory.remove() }
        #expect(second.node.metricsAddress == nil)
        try await first.assertServesGoodClient()
        let firstText = String(decoding: first.node.metrics.exposition(), as: UTF8.self)
        let secondText = String(decoding: second.node.metrics.exposition(), as: UTF8.self)
        #expect(MetricSamples(firstText).value("edfs_requests_total", ["type": "put_object", "result": "ok"]) == 1)
        #expect(MetricSamples(secondText).value("edfs_requests_total", ["type": "put_object", "result": "ok"]) == 0)
        #expect(MetricSamples(secondText).value("edfs_object_received_bytes_total") == 0)
        await second.node.shutdown()
        }
    }

    @Test("MetricsListen: in a node config: HOST:PORT, port 0 allowed, absent means off, a bad value is an error")
    func configLine() throws {
        let folder = try TemporaryDirectory()
        defer { folder.remove() }
        func load(_ extra: String) throws -> NodeConfiguration {
            let path = folder.path + "/dfs.conf"
            try "Server N1 127.0.0.1:10001\n\(extra)".write(toFile: path, atomically: true, encoding: .utf8)
            return try NodeConfiguration.load(configFile: path, name: "N1", dataDirectory: folder.path + "/data")
        }
        #expect(try load("").metricsListen == nil)
        #expect(try load("MetricsListen: 127.0.0.1:9100\n").metricsListen == HostPort(parsing: "127.0.0.1:9100"))
        #expect(try load("MetricsListen: [::1]:0\n").metricsListen?.port == 0)
        #expect(throws: NodeConfiguration.LoadError.self) { try load("MetricsListen: 9100\n") }
        #expect(throws: NodeConfiguration.LoadError.self) { try load("MetricsListen: 127.0.0.1:99999\n") }
    }

    @Test("a port in use for the metrics endpoint fails the start with a message naming MetricsListen:")
    func metricsPortInUse() async throws {
        try await withMetricsNode { first, taken in
        let folder = try TemporaryDirectory()
        defer { folder.remove() }
        var configuration = NodeConfiguration(
            name: "N1", host: "127.0.0.1", port: 0, dataDirectory: folder.path + "/data",
            certificateFile: first.keys + "/N1.crt", privateKeyFile: first.keys + "/N1.key",
            caFile: first.keys + "/ca.crt", users: [:])
        configuration.metricsListen = try HostPort(parsing: "127.0.0.1:\(taken)")
        var logger = Logger(label: "test-node")
        logger.logLevel = .critical
        let second = try StorageNode(configuration: configuration, logger: logger)
        do {
            try await second.start()
            Issue.record("a second node bound the same metrics port")
        } catch {
            #expect("\(error)".contains("MetricsListen") && "\(error)".contains("in use"), "\(error)")
        }
        await second.shutdown()
        }
    }
}
