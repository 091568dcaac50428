import EDFSCrypto
import Testing
@testable import EDFSFormat

#if canImport(Glibc)
import Glibc
#elseif canImport(Darwin)
import Darwin
#endif

@Suite struct ConfigTests {
    /// The seed report's dfs.conf, lines 1–10 as printed (without the screenshot's line numbers): DFS3 twice.
    static let seedConfig = """
        Server DFS1 127.0.0.1:10001
        Server DFS2 127.0.0.1:10002
        Server DFS3 127.0.0.1:10003
        Server DFS3 127.0.0.1:10004
        Username: rohan
        Password: c916d142f0dc7f9389653a164f1d4e9d
        Username: suyasha
        Password: 4fa6e053e6cdead4e4a56c82befc4eb8
        Username: srusti
        Password: e7741308a786f5522a681aa8fe343363

        """

    static let path = "Config/dfs.conf"

    static func parse(_ text: String, path: String = path) throws(ConfigError) -> ClusterConfig {
        try ClusterConfig(parsing: text, path: path)
    }

    /// Parses `text`, expects an error on `line` with `reason`, and checks the message names file and line.
    static func expectError(
        _ text: String, line: Int?, _ reason: ConfigError.Reason, sourceLocation: SourceLocation = #_sourceLocation
    ) {
        do throws(ConfigError) {
            _ = try parse(text)
            Issue.record("parsed, expected \(reason)", sourceLocation: sourceLocation)
        } catch {
            #expect(error.reason == reason, sourceLocation: sourceLocation)
            #expect(error.line == line, sourceLocation: sourceLocation)
            #expect(error.file == path, sourceLocation: sourceLocation)
            let prefix = line.map { "\(path):\($0): " } ?? "\(path): "
            #expect(error.description.hasPrefix(prefix), sourceLocation: sourceLocation)
            #expect(!error.description.contains("\n"), sourceLocation: sourceLocation)
        }
    }

    static let server = "Server A 127.0.0.1:1\n"

    // MARK: - The seed's file

    @Test func parsesTheSeedFileWithAWarningForTheDuplicateName() throws {
        let config = try Self.parse(Self.seedConfig)
        #expect(config.servers.map(\.name) == ["DFS1", "DFS2", "DFS3", "DFS3"])
        #expect(config.servers.map(\.host) == Array(repeating: "127.0.0.1", count: 4))
        #expect(config.servers.map(\.port) == [10001, 10002, 10003, 10004])
        #expect(config.servers.map(\.line) == [1, 2, 3, 4])
        #expect(config.users.map(\.name) == ["rohan", "suyasha", "srusti"])
        #expect(config.users.map(\.line) == [5, 7, 9])
        #expect(config.passwordDigests == [
            "rohan": "c916d142f0dc7f9389653a164f1d4e9d",
            "suyasha": "4fa6e053e6cdead4e4a56c82befc4eb8",
            "srusti": "e7741308a786f5522a681aa8fe343363",
        ])
        #expect(config.defaultUser == "rohan")
        #expect(config.warnings == [ConfigWarning(
            file: Self.path, line: 4, kind: .duplicateServerName("DFS3", firstLine: 3, position: 4))])
        #expect(config.warnings[0].description.hasPrefix("Config/dfs.conf:4: warning: "))
        #expect(config.settings.isEmpty)
        // Defaults: the seed's pairs.
        #expect(config.placement == (try Placement(nodeCount: 4, replicas: 2)))
        #expect(config.writeQuorum == 1)
        #expect(config.segmentSize == 1 << 20)
        #expect(config.keysDirectory == "Config/Keys")
        #expect(config.caFile == "Config/Keys/ca.crt")
    }

    @Test func theSeedDigestsAreTheMD5OfEachUserName() throws {
        // Worth knowing: the report's passwords equal the user names (its demo logs in as rohan/rohan).
        let config = try Self.parse(Self.seedConfig)
        for user in config.users {
            #expect(user.passwordMD5 == Hex.encode(EDFSCryptoMD5.digest(user.name)))
        }
    }

    @Test func findsServersByNameAndWarnsWhenTheNameIsShared() throws {
        let config = try Self.parse(Self.seedConfig)
        let dfs2 = try #require(config.server(named: "DFS2"))
        #expect(dfs2.index == 1 && dfs2.server.port == 10002 && dfs2.otherIndices.isEmpty && dfs2.warning == nil)
        let dfs3 = try #require(config.server(named: "DFS3"))
        #expect(dfs3.index == 2 && dfs3.server.port == 10003 && dfs3.otherIndices == [3])
        let warning = try #require(dfs3.warning)
        #expect(warning.kind == .ambiguousServerName("DFS3", usedLine: 3, otherLines: [4]))
        #expect(warning.description.contains("line 4"))
        #expect(config.server(named: "DFS4") == nil)
        #expect(config.server(named: "dfs1") == nil)
    }

    // MARK: - Line forms

    @Test func acceptsCRLFBlankLinesCommentsWhitespaceAndABOM() throws {
        let text = "\u{FEFF}# cluster\r\n\r\n  Server\tDFS1   127.0.0.1:10001  \r\n"
            + "\t# indented comment\r\nserver DFS2 localhost:10002\r\nSERVER: DFS3 [::1]:10003\r\n"
            + "   \r\n\tUsername:rohan\t\r\nPassword:   C916D142F0DC7F9389653A164F1D4E9D\r\n"
            + "replicas: 3\r\nWriteQuorum :2\r\nSegmentSize: 4M"
        let config = try Self.parse(text)
        #expect(config.servers.map(\.name) == ["DFS1", "DFS2", "DFS3"])
        #expect(config.servers.map(\.host) == ["127.0.0.1", "localhost", "::1"])
        #expect(config.servers.map(\.line) == [3, 5, 6])
        #expect(config.servers[2].address.description == "[::1]:10003")
        #expect(config.users == [ClusterConfig.User(name: "rohan", passwordMD5: "c916d142f0dc7f9389653a164f1d4e9d", line: 8)])
        #expect(config.replicas == 3 && config.writeQuorum == 2 && config.segmentSize == 4 << 20)
        #expect(config.warnings.isEmpty)
        #expect(config.settings.map(\.key) == ["replicas", "WriteQuorum", "SegmentSize"])
    }

    @Test func crlfAndLFGiveTheSameResult() throws {
        let lf = try Self.parse(Self.seedConfig)
        let crlf = try Self.parse(Self.seedConfig.replacing("\n", with: "\r\n"))
        #expect(lf.servers == crlf.servers && lf.users == crlf.users && lf.warnings == crlf.warnings)
    }

    @Test func keepsUnknownKeysWithAWarning() throws {
        let config = try Self.parse(Self.server + "Colour: blue\nMaxStreams: 8\nfuture.setting-x: 1 2 3\n")
        #expect(config.warnings == [
            ConfigWarning(file: Self.path, line: 2, kind: .unknownSetting("Colour")),
            ConfigWarning(file: Self.path, line: 4, kind: .unknownSetting("future.setting-x")),
        ])
        #expect(config.string("colour") == "blue")
        #expect(config.setting("Colour")?.isKnown == false)
        #expect(config.setting("MaxStreams")?.isKnown == true)
        #expect(config.string("future.setting-x") == "1 2 3")
        #expect(config.string("Missing") == nil)
    }

    @Test func aUsernameWithoutPasswordIsAClientUser() throws {
        let config = try Self.parse(Self.server + "Username: rohan\nUsername: other\nPassword: \(String(repeating: "0", count: 32))\n")
        #expect(config.defaultUser == "rohan")
        #expect(config.user(named: "rohan")?.passwordMD5 == nil)
        #expect(config.user(named: "other")?.passwordMD5 == String(repeating: "0", count: 32))
        #expect(config.passwordDigests.keys.sorted() == ["other"])
        #expect(config.user(named: "nobody") == nil)
        // The description of a user never shows the digest.
        #expect(config.user(named: "other")?.description == "other (password digest set)")
    }

    @Test func warnsAboutAnAddressUsedTwice() throws {
        let config = try Self.parse("Server A 127.0.0.1:1\nServer B 127.0.0.1:1\n")
        #expect(config.warnings == [ConfigWarning(
            file: Self.path, line: 2, kind: .duplicateAddress("127.0.0.1:1", firstLine: 1))])
    }

    // MARK: - Typed settings

    @Test func typedAccessorsAndDefaults() throws {
        let text = Self.server + """
            MaxFrameSize: 16M
            MaxObjectSize: 1T
            MaxConnections: 256
            MaxStreams: 32
            LoginTimeout: 10
            IdleTimeout: 5m
            Custom: 1.5h
            Number: 12
            Size: 2K
            Text: hello world
            """
        let config = try Self.parse(text)
        #expect(try config.byteSize("MaxFrameSize") == 16 << 20)
        #expect(try config.byteSize("maxobjectsize") == 1 << 40)
        #expect(try config.integer("MaxConnections") == 256)
        #expect(try config.integer("MaxStreams") == 32)
        #expect(try config.seconds("LoginTimeout") == .seconds(10))
        #expect(try config.seconds("IdleTimeout") == .seconds(300))
        #expect(try config.seconds("Custom") == .seconds(5400))
        #expect(try config.integer("Number") == 12)
        #expect(try config.byteSize("Size") == 2048)
        #expect(try config.integer("Absent") == nil)
        #expect(try config.byteSize("Absent") == nil)
        #expect(try config.seconds("Absent") == nil)
        #expect(config.path("Absent") == nil)
        #expect(throws: ConfigError(file: Self.path, line: 11, reason: .badValue(
            key: "Text", value: "hello world", expected: "a whole number"))) { try config.integer("Text") }
        #expect(throws: ConfigError.self) { try config.byteSize("Text") }
        #expect(throws: ConfigError.self) { try config.seconds("Text") }
        // Defaults with one server: a single replica, quorum 1.
        #expect(config.replicas == 1 && config.writeQuorum == 1)
    }

    @Test(arguments: [
        ("30", 30_000), ("30s", 30_000), ("1.5", 1_500), ("500ms", 500), ("500 ms", 500), ("2m", 120_000),
        ("1h", 3_600_000), ("0.25s", 250),
    ])
    func timeValues(text: String, milliseconds: Int64) throws {
        let grace = try Self.parse(Self.server + "OrphanGracePeriod: \(text)\n")
        #expect(try grace.seconds("OrphanGracePeriod") == .milliseconds(milliseconds))
        if milliseconds >= 1000 {  // ScrubInterval: at least 1 s
            #expect(try Self.parse(Self.server + "ScrubInterval: \(text)\n").seconds("ScrubInterval") == .milliseconds(milliseconds))
        }
        let config = try Self.parse(Self.server + "LoginTimeout: \(text)\n")
        #expect(try config.seconds("LoginTimeout") == .milliseconds(milliseconds))
    }

    @Test func defaultReplicasAndQuorumFollowTheNodeCount() throws {
        let four = try Self.parse(Self.seedConfig + "Replicas: 3\n")
        #expect(four.replicas == 3 && four.writeQuorum == 2)
        let two = try Self.parse("Server A a:1\nServer B b:2\n")
        #expect(two.replicas == 2 && two.writeQuorum == 1)
        // Settings may come before the Server lines that bound them.
        let early = try Self.parse("Replicas: 4\nWriteQuorum: 4\n" + Self.seedConfig)
        #expect(early.replicas == 4 && early.writeQuorum == 4)
    }

    // MARK: - Paths

    @Test func relativePathsResolveAgainstTheConfigFolder() throws {
        let text = Self.server + "Keys: ../Keys\nDataDir: data\nAbsolute: /etc/edfs/x\n"
        let config = try Self.parse(text, path: "/work/main/Config/dfs.conf")
        #expect(config.directory == "/work/main/Config")
        #expect(config.keysDirectory == "/work/main/Config/../Keys")
        #expect(config.caFile == "/work/main/Config/../Keys/ca.crt")
        #expect(config.path("DataDir") == "/work/main/Config/data")
        #expect(config.path("Absolute") == "/etc/edfs/x")

        let bare = try Self.parse(Self.server + "CA: certs/root.pem\n", path: "dfc.conf")
        #expect(bare.directory == "")
        #expect(bare.keysDirectory == "Keys")
        #expect(bare.caFile == "certs/root.pem")

        let root = try Self.parse(Self.server, path: "/dfc.conf")
        #expect(root.keysDirectory == "/Keys")

        let relative = try Self.parse(Self.server + "CA: ca.pem\n", path: "Config/dfc.conf")
        #expect(relative.keysDirectory == "Config/Keys")
        #expect(relative.caFile == "Config/ca.pem")
    }

    // MARK: - Errors, each naming file and line

    @Test func rejectsMalformedLines() {
        Self.expectError(Self.server + "just some words\n", line: 2, .malformedLine)
        Self.expectError(Self.server + "Password c916d142f0dc7f9389653a164f1d4e9d\n", line: 2, .malformedLine)
        Self.expectError(Self.server + ": value\n", line: 2, .malformedLine)
        Self.expectError(Self.server + "9lives: x\n", line: 2, .malformedLine)
        Self.expectError(Self.server + "two words: x\n", line: 2, .malformedLine)
        Self.expectError(Self.server + "Replicas:\n", line: 2, .missingValue(key: "Replicas"))
        Self.expectError(Self.server + "Username:   \n", line: 2, .missingValue(key: "Username"))
        Self.expectError(Self.server + "Keys: a\r\nkeys: b\n", line: 3, .duplicateSetting(key: "keys", firstLine: 2))
        Self.expectError(Self.server + "Odd: a\nOdd: b\n", line: 3, .duplicateSetting(key: "Odd", firstLine: 2))
        Self.expectError(Self.server + "Keys: a\u{7}b\n", line: 2, .controlCharacter)
        Self.expectError(Self.server + "Keys: a\rb\n", line: 2, .controlCharacter)
        Self.expectError(Self.server + "Keys: \u{0}\n", line: 2, .controlCharacter)
    }

    @Test func rejectsMalformedServerLines() {
        Self.expectError("Server DFS1\n", line: 1, .malformedServer)
        Self.expectError("Server\n", line: 1, .malformedServer)
        Self.expectError("Server DFS1 127.0.0.1:10001 extra\n", line: 1, .malformedServer)
        Self.expectError("Server DFS1 127.0.0.1:10001 # trailing comment\n", line: 1, .malformedServer)
        Self.expectError("Server ../x 127.0.0.1:1\n", line: 1, .badServerName("../x"))
        Self.expectError("Server -x 127.0.0.1:1\n", line: 1, .badServerName("-x"))
        Self.expectError("# no servers\nUsername: a\n", line: nil, .noServers)
        Self.expectError("", line: nil, .noServers)
    }

    @Test func rejectsBadAddressesAndPorts() {
        Self.expectError(Self.seedConfig.replacing("127.0.0.1:10004", with: "127.0.0.1:99999"),
                         line: 4, .badAddress(.badPort("99999")))
        do throws(ConfigError) {
            _ = try Self.parse("# x\n# y\n\nServer DFS4 127.0.0.1:99999\n")
            Issue.record("parsed a bad port")
        } catch {
            #expect(error.description == "Config/dfs.conf:4: bad port \"99999\" (1–65535)")
        }
        let cases: [(String, HostPortError)] = [
            ("127.0.0.1:0", .badPort("0")),
            ("127.0.0.1:65536", .badPort("65536")),
            ("127.0.0.1:-1", .badPort("-1")),
            ("127.0.0.1:+80", .badPort("+80")),
            ("127.0.0.1:", .badPort("")),
            ("127.0.0.1:http", .badPort("http")),
            ("127.0.0.1:000080", .badPort("000080")),
            ("127.0.0.1", .missingPort("127.0.0.1")),
            (":10001", .emptyHost(":10001")),
            ("::1:10001", .unbracketedIPv6("::1:10001")),
            ("[::1]10001", .missingPort("[::1]10001")),
            ("[::1:10001", .badHost("[::1:10001")),
            ("[not-v6]:1", .badHost("not-v6")),
            ("[1:2:3:4:5:6:7:8:9]:1", .badHost("1:2:3:4:5:6:7:8:9")),
            ("[1::2::3]:1", .badHost("1::2::3")),
            ("256.1.1.1:1", .badHost("256.1.1.1")),
            ("1.2.3:1", .badHost("1.2.3")),
            ("bad_host:1", .badHost("bad_host")),
            ("-host:1", .badHost("-host")),
            ("host..name:1", .badHost("host..name")),
        ]
        for (address, expected) in cases {
            Self.expectError("Server A \(address)\n", line: 1, .badAddress(expected))
        }
    }

    @Test func acceptsIPv4NamesAndBracketedIPv6() throws {
        let good = [
            "127.0.0.1:1", "10.0.0.255:65535", "localhost:10001", "node-1.example.org:443", "[::1]:10001",
            "[::]:1", "[fe80::1]:2", "[2001:db8:0:0:0:0:2:1]:3", "[::ffff:192.0.2.1]:4", "[1:2:3:4:5:6:7::]:5",
        ]
        for address in good {
            let config = try Self.parse("Server A \(address)\n")
            #expect(config.servers[0].address.description == address, "\(address)")
            #expect(try HostPort(parsing: config.servers[0].address.description) == config.servers[0].address)
        }
    }

    @Test func listenAddressesMayUsePortZero() throws {
        #expect(try HostPort(parsing: "127.0.0.1:0", allowPortZero: true).port == 0)
        #expect(try HostPort(parsing: "[::1]:0", allowPortZero: true).host == "::1")
        #expect(throws: HostPortError.badPort("0")) { try HostPort(parsing: "127.0.0.1:0") }
        #expect(throws: HostPortError.badPort("65536")) { try HostPort(parsing: "127.0.0.1:65536", allowPortZero: true) }
        #expect(try HostPort(host: "::1", port: 10001).description == "[::1]:10001")
        #expect(throws: HostPortError.badHost("a b")) { try HostPort(host: "a b", port: 1) }
        #expect(throws: HostPortError.badPort("0")) { try HostPort(host: "a", port: 0) }
    }

    @Test func rejectsBadDigestsWithoutEchoingThem() {
        let short = "c916d142f0dc7f9389653a164f1d4e9"
        let user = Self.server + "Username: rohan\n"
        Self.expectError(user + "Password: \(short)\n", line: 3, .badDigest(length: 31))
        Self.expectError(user + "Password: \(short)zz\n", line: 3, .badDigest(length: 33))
        Self.expectError(user + "Password: \(short)g\n", line: 3, .badDigest(length: 32))
        Self.expectError(user + "Password: rohan\n", line: 3, .badDigest(length: 5))
        Self.expectError(user + "Password: c916d142 f0dc7f9389653a164f1d4e9d\n", line: 3, .badDigest(length: 33))
        do throws(ConfigError) {
            _ = try Self.parse(user + "Password: \(short)g\n")
        } catch {
            #expect(!error.description.contains(short))
        }
    }

    @Test func rejectsBadUsersAndPasswordOrder() {
        Self.expectError(Self.server + "Password: c916d142f0dc7f9389653a164f1d4e9d\n", line: 2, .passwordWithoutUser)
        Self.expectError("Password: c916d142f0dc7f9389653a164f1d4e9d\n" + Self.server, line: 1, .passwordWithoutUser)
        Self.expectError(Self.server + "Username: a\nPassword: \(String(repeating: "a", count: 32))\n"
                         + "Password: \(String(repeating: "b", count: 32))\n",
                         line: 4, .duplicatePassword(user: "a", firstLine: 3))
        Self.expectError(Self.server + "Username: rohan\nUsername: rohan\n", line: 3, .duplicateUser("rohan", firstLine: 2))
        Self.expectError(Self.server + "Username: rohan\nUsername: Rohan\n", line: 3, .duplicateUser("Rohan", firstLine: 2))
        for bad in ["../etc", ".hidden", "-rf", "a/b", "a b", String(repeating: "x", count: 65), "é"] {
            Self.expectError(Self.server + "Username: \(bad)\n", line: 2, .badUserName(bad))
        }
    }

    @Test func rejectsBadValuesForKnownKeys() {
        func bad(_ line: String, _ key: String, _ value: String) -> ConfigError.Reason? {
            do throws(ConfigError) {
                _ = try Self.parse(Self.seedConfig + line + "\n")
                return nil
            } catch {
                #expect(error.line == 11, "\(line)")
                guard case let .badValue(k, v, _) = error.reason, k == key, v == value else {
                    Issue.record("\(line): \(error)")
                    return nil
                }
                return error.reason
            }
        }
        for (line, key, value) in [
            ("Replicas: 0", "Replicas", "0"), ("Replicas: 5", "Replicas", "5"), ("Replicas: -1", "Replicas", "-1"),
            ("Replicas: two", "Replicas", "two"), ("Replicas: 2.0", "Replicas", "2.0"),
            ("SegmentSize: 0", "SegmentSize", "0"), ("SegmentSize: 65M", "SegmentSize", "65M"),
            ("SegmentSize: 1GB", "SegmentSize", "1GB"), ("SegmentSize: big", "SegmentSize", "big"),
            ("MaxFrameSize: 10", "MaxFrameSize", "10"), ("MaxConnections: 0", "MaxConnections", "0"),
            ("MaxStreams: 100000", "MaxStreams", "100000"), ("LoginTimeout: 0", "LoginTimeout", "0"),
            ("LoginTimeout: 2h", "LoginTimeout", "2h"), ("IdleTimeout: soon", "IdleTimeout", "soon"),
            ("IdleTimeout: 5 minutes", "IdleTimeout", "5 minutes"),
            ("ScrubInterval: 500ms", "ScrubInterval", "500ms"), ("ScrubInterval: 31d", "ScrubInterval", "31d"),
            ("ScrubInterval: 721h", "ScrubInterval", "721h"), ("ScrubInterval: off", "ScrubInterval", "off"),
            ("OrphanGracePeriod: 0", "OrphanGracePeriod", "0"), ("OrphanGracePeriod: 8761h", "OrphanGracePeriod", "8761h"),
        ] {
            #expect(bad(line, key, value) != nil, "\(line)")
        }
        // WriteQuorum is bounded by Replicas, whichever order they come in.
        Self.expectError(Self.seedConfig + "WriteQuorum: 3\n", line: 11,
                         .badValue(key: "WriteQuorum", value: "3", expected: "1…2, the number of replicas"))
        Self.expectError("WriteQuorum: 4\n" + Self.seedConfig + "Replicas: 3\n", line: 1,
                         .badValue(key: "WriteQuorum", value: "4", expected: "1…3, the number of replicas"))
        Self.expectError("Replicas: 5\n" + Self.seedConfig, line: 1,
                         .badValue(key: "Replicas", value: "5", expected: "1…4, the number of Server lines"))
        Self.expectError(Self.server + "SegmentSize: 65M\n", line: 2, .badValue(
            key: "SegmentSize", value: "65M", expected: "a size 1…64M bytes, units K, M, G are binary, e.g. 1M"))
        // The largest allowed segment is exactly 64 MiB.
        #expect((try? Self.parse(Self.server + "SegmentSize: 64M\n"))?.segmentSize == 64 << 20)
        #expect((try? Self.parse(Self.server + "SegmentSize: 1\n"))?.segmentSize == 1)
    }

    @Test func boundsFileSizeLineLengthAndServerCount() {
        let longLine = "# " + String(repeating: "x", count: ClusterConfig.maxLineBytes)
        Self.expectError(Self.server + longLine + "\n", line: 2, .lineTooLong(limit: ClusterConfig.maxLineBytes))
        let okLine = "#" + String(repeating: "x", count: ClusterConfig.maxLineBytes - 1)
        #expect((try? Self.parse(Self.server + okLine + "\r\n")) != nil)
        let huge = String(repeating: "#\n", count: ClusterConfig.maxFileBytes / 2 + 1)
        Self.expectError(huge, line: nil, .tooLarge(limit: ClusterConfig.maxFileBytes))
        let many = (1...ClusterConfig.maxServers + 1).map { "Server N\($0) 10.0.\($0 / 256).\($0 % 256):1\n" }.joined()
        Self.expectError(many, line: ClusterConfig.maxServers + 1, .tooManyServers(limit: ClusterConfig.maxServers))
    }

    // MARK: - NameRules

    @Test func nameRules() {
        for good in ["rohan", "a", "A.b_c-d", "0", "user.name", String(repeating: "x", count: 64), "a..b", "a-"] {
            #expect(NameRules.isValidUserName(good), "\(good)")
        }
        for bad in ["", ".", "..", ".a", "-a", "a/b", "a\\b", "a b", "a\0", "é", "a:b",
                    String(repeating: "x", count: 65)] {
            #expect(!NameRules.isValidUserName(bad), "\(bad)")
            #expect(!NameRules.isValidServerName(bad), "\(bad)")
        }
    }

    // MARK: - Loading from disk

    @Test func loadsAFileAndReportsMissingOrInvalidFiles() throws {
        let folder = try ConfigTestFolder()
        defer { folder.remove() }
        let path = folder.path + "/dfc.conf"
        try folder.write(Self.seedConfig + "CA: ca.pem\n", to: path)
        let config = try ClusterConfig.load(path: path)
        #expect(config.servers.count == 4 && config.caFile == folder.path + "/ca.pem")
        #expect(config.warnings.first?.file == path)

        #expect(throws: ConfigError(file: folder.path + "/none.conf", line: nil, reason: .noSuchFile)) {
            try ClusterConfig.load(path: folder.path + "/none.conf")
        }
        let latin1 = folder.path + "/latin1.conf"
        try folder.write(bytes: Array("Server A a:1\n# caf".utf8) + [0xE9, 0x0A], to: latin1)
        #expect(throws: ConfigError(file: latin1, line: nil, reason: .notUTF8)) {
            try ClusterConfig.load(path: latin1)
        }
        let big = folder.path + "/big.conf"
        try folder.write(String(repeating: "#\n", count: ClusterConfig.maxFileBytes / 2 + 1), to: big)
        #expect(throws: ConfigError(file: big, line: nil, reason: .tooLarge(limit: ClusterConfig.maxFileBytes))) {
            try ClusterConfig.load(path: big)
        }
        #expect(throws: ConfigError.self) { try ClusterConfig.load(path: folder.path) }
    }

    @Test func theSampleConfigsParse() throws {
        let root = try #require(Self.packageRoot())
        let node = try ClusterConfig.load(path: root + "/Config/dfs.conf")
        #expect(node.warnings.isEmpty)
        #expect(node.servers.map(\.name) == ["DFS1", "DFS2", "DFS3", "DFS4"])
        #expect(node.servers.map(\.address.description) == (1...4).map { "127.0.0.1:1000\($0)" })
        #expect(node.users.map(\.name) == ["rohan", "suyasha", "srusti"])
        #expect(node.passwordDigests == (try Self.parse(Self.seedConfig)).passwordDigests)
        #expect(node.keysDirectory == root + "/Config/../Keys")

        let client = try ClusterConfig.load(path: root + "/Config/dfc.conf")
        #expect(client.warnings.isEmpty)
        #expect(client.servers.map(\.name) == node.servers.map(\.name))
        #expect(client.servers.map(\.address) == node.servers.map(\.address))
        #expect(client.defaultUser == "rohan")
        #expect(client.replicas == 2 && client.writeQuorum == 1)
        #expect(client.caFile == root + "/Config/../Keys/ca.crt")
    }

    /// The package folder, found from this source file's path.
    static func packageRoot(file: String = #filePath) -> String? {
        guard let range = file.firstRange(of: "/Tests/EDFSFormatTests/") else { return nil }
        return String(file[..<range.lowerBound])
    }
}

// MARK: - Helpers

/// MD5 through EDFSCrypto, named so the test reads plainly.
private enum EDFSCryptoMD5 {
    static func digest(_ text: String) -> [UInt8] { Digest.md5(Array(text.utf8)) }
}

/// A temporary folder removed by `remove()`.
private struct ConfigTestFolder {
    let path: String

    init() throws {
        var template = Array("/tmp/edfs-config-test-XXXXXX".utf8CString)
        let made = template.withUnsafeMutableBufferPointer { buffer -> Bool in
            guard let base = buffer.baseAddress else { return false }
            return mkdtemp(base) != nil
        }
        guard made else { throw ConfigTestFailure("mkdtemp failed") }
        path = String(decoding: template.dropLast().map { UInt8(bitPattern: $0) }, as: UTF8.self)
    }

    func write(_ text: String, to file: String) throws { try write(bytes: Array(text.utf8), to: file) }

    func write(bytes: [UInt8], to file: String) throws {
        guard let handle = fopen(file, "wb") else { throw ConfigTestFailure("cannot create \(file)") }
        defer { fclose(handle) }
        let written = bytes.withUnsafeBytes { fwrite($0.baseAddress, 1, $0.count, handle) }
        guard written == bytes.count else { throw ConfigTestFailure("short write to \(file)") }
    }

    func remove() {
        // Only the files this suite writes, then the folder itself.
        for name in ["dfc.conf", "latin1.conf", "big.conf"] { unlink(path + "/" + name) }
        rmdir(path)
    }
}

private struct ConfigTestFailure: Error, CustomStringConvertible {
    let description: String
    init(_ description: String) { self.description = description }
}
