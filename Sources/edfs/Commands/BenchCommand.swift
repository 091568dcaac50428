import ArgumentParser
import EDFSCrypto
import EDFSDevTools
import EDFSFormat
import Foundation

/// `edfs bench`: serial vs parallel AES-256-GCM, with the raw EVP ceilings measured in the same run.
struct BenchCommand: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "bench",
        abstract: "Measure serial vs parallel AES-256-GCM sealing against the raw OpenSSL ceilings.",
        discussion: """
        Seals one in-memory buffer in segments (a) with one thread calling OpenSSL directly, (a') with THREADS \
        threads calling it directly, (b) serially through edfs's segment sealer, (c) in parallel through it, and \
        (d) opens it in parallel, verifying every tag and the round trip. Medians of --repeat runs, in GB/s (10^9 B/s). \
        Build with -c release for meaningful figures.

        Examples:
          edfs bench
          edfs bench --size 256M --threads 2 --json
        """
    )

    @Option(help: "Bytes to seal (suffixes K, M, G: binary multiples).")
    var size: String = "1G"

    @Option(help: "Segment size (suffixes K, M).")
    var segment: String = "1M"

    @Option(help: "Worker threads for the parallel runs (default: one per core).")
    var threads: Int?

    @Option(name: .customLong("repeat"), help: "Runs per measurement; the median is reported.")
    var repetitions: Int = 5

    @Flag(help: "Print one JSON object instead of a table.")
    var json = false

    func run() async throws {
        try await reportingFailures {
            let total = try ByteCount(parsing: size).bytes
            let segmentBytes = try ByteCount(parsing: segment).bytes
            let options = SealingBenchmark.Options(totalBytes: total, segmentBytes: segmentBytes,
                                                   threads: threads ?? ProcessInfoCores.active, repetitions: repetitions)
            let result = try SealingBenchmark(options: options).run()
            if json {
                let encoder = JSONEncoder()
                encoder.outputFormatting = [.sortedKeys]
                print(String(decoding: try encoder.encode(result), as: UTF8.self))
            } else {
                print(Self.table(result))
            }
        }
    }

    static func table(_ r: SealingBenchmark.Result) -> String {
        func gbps(_ value: Double) -> String { String(format: "%6.2f GB/s", value) }
        func ratio(_ value: Double) -> String { String(format: "%.2f", value) }
        var lines = [
            "edfs bench: AES-256-GCM, \(ByteCount.humanReadable(r.totalBytes)) in \(ByteCount.humanReadable(r.segmentBytes)) segments, "
                + "\(r.threads) threads on \(r.cores) cores, median of \(r.repetitions)",
            "  (a)  raw EVP, 1 thread            \(gbps(r.ceilingSerialGBps))",
            "  (a') raw EVP, \(r.threads) threads           \(gbps(r.ceilingParallelGBps))",
            "  (b)  edfs serial seal              \(gbps(r.serialGBps))",
            "  (c)  edfs parallel seal            \(gbps(r.parallelGBps))",
            "  (d)  edfs parallel open + verify   \(gbps(r.parallelOpenGBps))   round trip \(r.roundTripVerified ? "byte-exact" : "MISMATCH")",
            "  speedup (c)/(b) \(ratio(r.speedup))   serial efficiency (b)/(a) \(ratio(r.serialEfficiency))   "
                + "parallel efficiency (c)/(a') \(ratio(r.parallelEfficiency))",
        ]
        if let peak = r.peakRSSBytes { lines.append("  peak RSS \(ByteCount.humanReadable(peak))") }
        return lines.joined(separator: "\n")
    }
}
