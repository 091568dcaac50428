import EDFSTestSupport
import Foundation
import Testing

extension BinaryCommandSuites {
/// `edfs bench` through the real binary: a functional check of output and exit codes, never a timing assertion.
@Suite("edfs bench")
struct BenchCommandTests {
    @Test("--json prints every documented key and a verified round trip")
    func json() async throws {
        let outcome = try await EDFSBinary.run(["bench", "--size", "3M", "--segment", "256K", "--threads", "2", "--repeat", "1", "--json"])
        #expect(outcome.status == 0, "stderr: \(outcome.stderr)")
        let object = try #require(try JSONSerialization.jsonObject(with: Data(outcome.stdout.utf8)) as? [String: Any])
        for key in ["cores", "threads", "segmentBytes", "totalBytes", "ceilingSerialGBps", "ceilingParallelGBps", "serialGBps",
                    "parallelGBps", "parallelOpenGBps", "speedup", "serialEfficiency", "parallelEfficiency"] {
            #expect(object[key] != nil, "missing key \(key)")
        }
        #expect(object["totalBytes"] as? Int == 3 << 20)
        #expect(object["segmentBytes"] as? Int == 256 << 10)
        #expect(object["threads"] as? Int == 2)
        #expect(object["roundTripVerified"] as? Bool == true)
        for key in ["ceilingSerialGBps", "serialGBps", "parallelGBps", "parallelOpenGBps"] {
            #expect((object[key] as? Double ?? 0) > 0, "\(key) must be positive")
        }
    }

    @Test("the table names every measurement")
    func table() async throws {
        let outcome = try await EDFSBinary.run(["bench", "--size", "1M", "--segment", "64K", "--repeat", "1"])
        #expect(outcome.status == 0, "stderr: \(outcome.stderr)")
        for label in ["(a)", "(a')", "(b)", "(c)", "(d)", "speedup", "byte-exact"] {
            #expect(outcome.stdout.contains(label), "missing \(label)")
        }
    }

    @Test("bad sizes are usage errors with one line on stderr", arguments: [["--size", "12Q"], ["--segment", "0"], ["--threads", "0"]])
    func usage(arguments: [String]) async throws {
        let outcome = try await EDFSBinary.run(["bench"] + arguments)
        #expect(outcome.status == 64, "stdout: \(outcome.stdout) stderr: \(outcome.stderr)")
        #expect(!outcome.stderr.isEmpty)
        #expect(outcome.stderr.split(separator: "\n").count == 1)
    }
}
}
