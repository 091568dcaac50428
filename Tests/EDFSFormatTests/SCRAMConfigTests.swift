import EDFSCrypto
import EDFSFormat
import Testing

@Suite("SCRAM verifiers in config files")
struct SCRAMConfigTests {
    static let verifier = "SCRAM-SHA-256$4096:W22ZaJ0SNY7soEsUEjb6gQ==$WG5d8oPm3OtcPnkdi4Uo7BkeZkBFzpcXkuLmtbsT4qY=:"
        + "wfPLwcE6nTWhTAmQ7tl2KeoiWGPlZqQxSrmfPwDl2dU="

    @Test("a SCRAM line and an MD5 line load side by side; LegacyMD5Logins parses yes/no")
    func mixedUsers() throws {
        let text = """
            Server DFS1 127.0.0.1:10001
            Username: carol
            Password: \(Self.verifier)
            Username: rohan
            Password: \(Hex.encode(Digest.md5(Array("rohan".utf8))))
            LegacyMD5Logins: No
            """
        let config = try ClusterConfig(parsing: text, path: "dfs.conf")
        let verifiers = config.loginVerifiers
        guard case let .scram(scram)? = verifiers["carol"] else { Issue.record("carol is not SCRAM"); return }
        #expect(scram.iterations == 4096 && scram.encoded == Self.verifier)
        #expect(verifiers["rohan"] == .md5(Digest.md5(Array("rohan".utf8))))
        #expect(config.passwordDigests.keys.sorted() == ["rohan"])
        #expect(try config.boolean("LegacyMD5Logins") == false)
        #expect(!config.users[0].description.contains("SCRAM-SHA-256$"))
    }

    @Test("a malformed verifier is an error naming the file and line, without the value", arguments: [
        "SCRAM-SHA-256$4096:W22ZaJ0SNY7soEsUEjb6gQ==$AAAA:AAAA", "SCRAM-SHA-256$100:W22ZaJ0SNY7soEsUEjb6gQ==$x:y",
        "SCRAM-SHA-256$", "SCRAM-SHA-256$4096:W22ZaJ0SNY7soEsUEjb6gQ==",
    ])
    func malformedVerifier(_ value: String) {
        let text = "Server DFS1 127.0.0.1:10001\nUsername: carol\nPassword: \(value)\n"
        do {
            _ = try ClusterConfig(parsing: text, path: "dfs.conf")
            Issue.record("accepted")
        } catch {
            #expect(error.description.contains("dfs.conf") && error.description.contains("3"))
            #expect(error.description.contains("not a valid SCRAM-SHA-256 verifier"))
            #expect(value == "SCRAM-SHA-256$" || !error.description.contains(value))  // the bare prefix is in the syntax hint
        }
    }

    @Test("LegacyMD5Logins takes only yes or no")
    func badBoolean() {
        #expect(throws: ConfigError.self) {
            try ClusterConfig(parsing: "Server DFS1 127.0.0.1:10001\nLegacyMD5Logins: maybe\n", path: "dfs.conf")
        }
    }
}
