import EDFSCrypto
import Testing

/// Several tasks, each with its own keys and `ParallelSegmentCipher`s, seal and open at the same time.
@Suite("Concurrent sealing smoke test")
struct ConcurrentSealingTests {
    struct Outcome: Sendable {
        let task: Int
        let sealedMatchesReference: Bool
        let openedMatchesPlaintext: Bool
        let tamperedRejected: Bool
    }

    static func run(task: Int) throws -> Outcome {
        let segmentSize = 4096
        let key = try SymmetricKey(copying: patternBytes(32, seed: UInt64(1000 + task)))
        let aadPrefix = Array("task \(task)".utf8)
        let scheme = try SegmentScheme(segmentSize: segmentSize, noncePrefix: UInt32(task), aadPrefix: aadPrefix)
        let plaintext = patternBytes(9 * segmentSize + 100 * task, seed: UInt64(task))
        let reference = try ReferenceSegments.sealStream(key: key, segmentSize: segmentSize, noncePrefix: UInt32(task),
                                                         aadPrefix: aadPrefix, plaintext: plaintext)
        let sealer = try ParallelSegmentCipher(key: key, scheme: scheme, direction: .seal, workers: 1 + task % 3)
        let opener = try ParallelSegmentCipher(key: key, scheme: scheme, direction: .open, workers: 1 + (task + 1) % 3)
        var matches = true, opens = true, rejects = true
        for _ in 0..<5 {
            // Two batches: four whole segments, then the rest ending the stream.
            let head = Array(plaintext[..<(4 * segmentSize)]), tail = Array(plaintext[(4 * segmentSize)...])
            let sealedHead = try sealBatch(sealer, firstSegmentIndex: 0, endsStream: false, plaintext: head)
            let sealedTail = try sealBatch(sealer, firstSegmentIndex: 4, endsStream: true, plaintext: tail)
            let sealed = sealedHead + sealedTail
            matches = matches && sealed == reference
            let opened = try openBatch(opener, firstSegmentIndex: 0, endsStream: true, sealed: sealed)
            opens = opens && opened == plaintext
            var bad = sealed
            bad[bad.count / 2] ^= 0x04
            do {
                _ = try openBatch(opener, firstSegmentIndex: 0, endsStream: true, sealed: bad)
                rejects = false
            } catch let error as SegmentCipherError {
                rejects = rejects && error.isAuthenticationFailure
            }
        }
        return Outcome(task: task, sealedMatchesReference: matches, openedMatchesPlaintext: opens, tamperedRejected: rejects)
    }

    @Test("eight tasks sealing and opening at once all get the reference bytes")
    func concurrentTasks() async throws {
        let outcomes = try await withThrowingTaskGroup(of: Outcome.self) { group in
            for task in 0..<8 {
                group.addTask { try Self.run(task: task) }
            }
            var all: [Outcome] = []
            for try await outcome in group { all.append(outcome) }
            return all
        }
        #expect(outcomes.count == 8)
        for outcome in outcomes {
            #expect(outcome.sealedMatchesReference, "task \(outcome.task)")
            #expect(outcome.openedMatchesPlaintext, "task \(outcome.task)")
            #expect(outcome.tamperedRejected, "task \(outcome.task)")
        }
    }
}
