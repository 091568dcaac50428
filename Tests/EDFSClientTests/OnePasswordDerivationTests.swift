import EDFSClient
import EDFSCrypto
import EDFSFormat
import EDFSTestSupport
import Foundation
import Testing

/// A command costs one PBKDF2 in all: the SCRAM logins on every node and the keyslot unlock share one SaltedPassword
/// (issue 11, item 2; SECURITY.md "Logins").
@Suite("One password derivation per command")
struct OnePasswordDerivationTests {
    private func open(_ cluster: InProcessCluster, user: String, password: String) async throws
        -> (ClusterSession, PasswordDerivation) {
        let derivation = PasswordDerivation(password: SecureBytes(copying: Array(password.utf8)))
        let session = try await ClusterSession.open(config: cluster.config, user: user, derivation: derivation,
                                                    connector: cluster.connector(user: user, derivation: derivation),
                                                    kdfIterations: 100_000)
        return (session, derivation)
    }

    @Test("a SCRAM user: four logins and the keyslot (created linked to the verifier) cost one PBKDF2")
    func scramUser() async throws {
        let cluster = try InProcessCluster(nodes: 4, scramUsers: ["carol": "carol's passphrase"])
        defer { Task { await cluster.shutdown() } }
        for round in 0..<2 {
            let (session, derivation) = try await open(cluster, user: "carol", password: "carol's passphrase")
            #expect(derivation.derivationsRun == 1, "round \(round)")
            #expect(session.keyslot.header.kdf.kind == .scramLinked)
            if case .scram = session.links[0]?.provenVerifier {} else { Issue.record("node 1 did not log in with SCRAM") }
            await session.close()
        }
    }

    @Test("an MD5 user: the login costs no PBKDF2, the keyslot one")
    func legacyUser() async throws {
        let cluster = try InProcessCluster(nodes: 4, users: ["dave": "dave's passphrase"])
        defer { Task { await cluster.shutdown() } }
        for _ in 0..<2 {
            let (session, derivation) = try await open(cluster, user: "dave", password: "dave's passphrase")
            #expect(derivation.derivationsRun == 1)
            #expect(session.keyslot.header.kdf.kind == .pbkdf2)
            await session.close()
        }
    }

    @Test("passwd upgrades an MD5 user to SCRAM: afterwards one PBKDF2 per command, files read, old password refused")
    func passwdUpgrades() async throws {
        let cluster = try InProcessCluster(nodes: 4, users: ["erin": "old passphrase"])
        defer { Task { await cluster.shutdown() } }
        let content = try randomContent(123_456)
        let (first, _) = try await open(cluster, user: "erin", password: "old passphrase")
        _ = try await PutOperation(first).run(file: cluster.writeScratch("src", content), as: "doc")
        let proven = Dictionary(uniqueKeysWithValues: first.links.enumerated().compactMap { node, link in
            link?.provenVerifier.map { (node, $0) }
        })
        #expect(proven.count == 4 && proven.values.allSatisfy { if case .md5 = $0 { true } else { false } })
        try await PasswordChange(first).run(to: PasswordDerivation(password: SecureBytes(copying: Array("new one".utf8))),
                                            kdfIterations: 100_000, currentVerifiers: proven)
        await first.close()
        let (after, derivation) = try await open(cluster, user: "erin", password: "new one")
        #expect(derivation.derivationsRun == 1)
        #expect(after.keyslot.header.kdf.kind == .scramLinked)
        for link in after.links { if case .scram = link?.provenVerifier {} else { Issue.record("not a SCRAM login") } }
        let out = cluster.scratch("out")
        try await GetOperation(after).run(name: "doc", to: .file(out))
        #expect(try Array(Data(contentsOf: URL(fileURLWithPath: out))) == content)
        await after.close()
        await #expect(throws: ClientError.self) { _ = try await open(cluster, user: "erin", password: "old passphrase") }
    }
}
