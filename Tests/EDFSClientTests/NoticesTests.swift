import EDFSClient
import EDFSCrypto
import Testing

@Suite("Notices")
struct NoticesTests {
    /// Attack finding (issue 15): a `get -r` with a node killed half-way printed the same note 1,271 times.
    @Test("a repeated notice is echoed once and counted; every line is kept in order")
    func repeatsEchoedOnce() {
        let echoed = PthreadMutex<[String]>([])
        let notices = Notices(echo: { line in echoed.withLock { $0.append(line) } })
        for _ in 0..<3 { notices.add("node DFS2: could not read a manifest: closed") }
        notices.add("node DFS3: unreachable")
        notices.add("node DFS2: could not read a manifest: closed")
        #expect(echoed.withLock { $0 } == ["node DFS2: could not read a manifest: closed", "node DFS3: unreachable"])
        #expect(notices.repeats == 3)
        #expect(notices.all.count == 5)
    }
}
