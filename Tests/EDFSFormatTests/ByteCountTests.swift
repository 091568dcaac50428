import Testing
@testable import EDFSFormat

@Suite struct ByteCountTests {
    static let parseCases: [(String, Int)] = [
        ("0", 0), ("1", 1), ("1048576", 1_048_576), ("4K", 4096), ("4k", 4096), ("4KiB", 4096), ("4Ki", 4096),
        ("4kib", 4096), ("512M", 512 << 20), ("1G", 1 << 30), ("1GiB", 1 << 30), ("1 GiB", 1 << 30),
        ("2T", 2 << 40), ("1P", 1 << 50), ("7E", 7 << 60), ("100B", 100), ("100 b", 100),
        ("1.5K", 1536), ("1.0 GiB", 1 << 30), ("0.5M", 512 << 10), ("1.25G", 5 << 28), ("0.5", -1),
        ("9223372036854775807", Int.max),
    ]

    @Test(arguments: parseCases)
    func parses(text: String, expected: Int) throws {
        if expected < 0 {
            #expect(throws: ByteCountError.notWholeBytes(text)) { try ByteCount(parsing: text) }
        } else {
            #expect(try ByteCount(parsing: text).bytes == expected)
        }
    }

    @Test func rejectsJunkNegativeOverflowAndAmbiguousUnits() {
        #expect(throws: ByteCountError.empty) { try ByteCount(parsing: "") }
        #expect(throws: ByteCountError.negative("-1G")) { try ByteCount(parsing: "-1G") }
        #expect(throws: ByteCountError.overflow("9223372036854775808")) { try ByteCount(parsing: "9223372036854775808") }
        #expect(throws: ByteCountError.overflow("8E")) { try ByteCount(parsing: "8E") }
        #expect(throws: ByteCountError.overflow("99999999999999999999G")) { try ByteCount(parsing: "99999999999999999999G") }
        #expect(throws: ByteCountError.ambiguousUnit("GB")) { try ByteCount(parsing: "1GB") }
        #expect(throws: ByteCountError.ambiguousUnit("kb")) { try ByteCount(parsing: "4kb") }
        #expect(throws: ByteCountError.notWholeBytes("0.1K")) { try ByteCount(parsing: "0.1K") }
        for junk in ["G", "1X", "1 ", " 1", "1  G", "1.G", ".5G", "1..5G", "1.5.G", "0x10", "+1", "1e3", "1GiBB",
                     "١", "1_000", "1,000", String(repeating: "1", count: 65)] {
            #expect(throws: ByteCountError.self, "\(junk)") { try ByteCount(parsing: junk) }
        }
    }

    static let formatCases: [(Int, String)] = [
        (0, "0 B"), (1, "1 B"), (1023, "1023 B"), (1024, "1.0 KiB"), (1536, "1.5 KiB"), (1 << 20, "1.0 MiB"),
        ((1 << 20) - 1, "1.0 MiB"), (1 << 30, "1.0 GiB"), (3 << 29, "1.5 GiB"), (5 << 40, "5.0 TiB"),
        (Int.max, "8.0 EiB"),
    ]

    @Test(arguments: formatCases)
    func formatsForHumans(bytes: Int, expected: String) {
        #expect(ByteCount(bytes).description == expected)
    }

    @Test func exactTextRoundTrips() throws {
        var generator = FormatTestRandom(seed: 7)
        var samples = [0, 1, 1023, 1024, 1025, 1536, 1 << 20, 1 << 30, 3 << 40, Int.max, Int.max - 1, 1 << 62]
        for _ in 0..<2000 {
            let shift = Int(generator.next() % 63)
            samples.append(Int(generator.next() >> 1) >> shift)
        }
        for bytes in samples {
            let count = ByteCount(bytes)
            #expect(try ByteCount(parsing: count.exactText) == count, "\(bytes)")
            #expect(try ByteCount(parsing: String(bytes)) == count, "\(bytes)")
        }
        #expect(ByteCount(1 << 30).exactText == "1G")
        #expect(ByteCount(1536).exactText == "1536")
        #expect(ByteCount(1536 << 10).exactText == "1536K")
        #expect(ByteCount(1000).exactText == "1000")
    }

    @Test func humanTextOfWholeUnitsParsesBack() throws {
        for shift in stride(from: 0, through: 60, by: 10) {
            for multiple in [1, 2, 3, 5, 512, 1000] where multiple <= Int.max >> shift {
                let bytes = multiple << shift
                // One decimal is exact only below 1024 of the unit shown.
                guard multiple < 1024 else { continue }
                #expect(try ByteCount(parsing: ByteCount(bytes).description).bytes == bytes, "\(bytes)")
            }
        }
    }

    @Test func errorsAreOneLineAndClipped() {
        let long = String(repeating: "x", count: 60)
        let error = ByteCountError.malformed(long)
        #expect(!error.description.contains("\n"))
        #expect(!error.description.contains(long))
        #expect(ByteCountError.ambiguousUnit("GB").description.contains("G or GiB"))
    }
}

/// A small deterministic generator so that "random" test inputs are the same on every run.
struct FormatTestRandom: RandomNumberGenerator {
    private var state: UInt64
    init(seed: UInt64) { state = seed }
    mutating func next() -> UInt64 {
        state &+= 0x9E37_79B9_7F4A_7C15
        var z = state
        z = (z ^ (z >> 30)) &* 0xBF58_476D_1CE4_E5B9
        z = (z ^ (z >> 27)) &* 0x94D0_49BB_1331_11EB
        return z ^ (z >> 31)
    }
}
