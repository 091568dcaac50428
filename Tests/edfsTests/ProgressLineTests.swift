import EDFSClient
import Testing

/// The progress line's fitting: never wider than the terminal allows, names escaped, wide characters counted wide.
@Suite("progress line fitting")
struct ProgressLineTests {
    private func snapshot(_ current: [String], files: (Int, Int) = (3, 10), bytes: (UInt64, UInt64) = (450 << 20, 1200 << 20),
                          elapsed: Double = 4) -> TransferProgress.Snapshot {
        TransferProgress.Snapshot(phase: "put", elapsedSeconds: elapsed, filesDone: files.0, totalFiles: files.1,
                                  bytesDone: bytes.0, totalBytes: bytes.1, current: current)
    }

    @Test("every width from 1 to 120 gives a line of at most width − 1 columns")
    func neverWraps() {
        let names = ["big.bin", String(repeating: "long-name-", count: 30), "写真/とても長い名前のファイル.jpg",
                     "emoji-👩‍👩‍👧‍👦-🎉.txt", "new\nline\u{1B}[31mred\u{7}\t.bin", "e\u{301}\u{301}\u{301}.txt"]
        for name in names {
            for width in 1...120 {
                let line = ProgressLine.render(snapshot([name, "other"]), width: width)
                #expect(TerminalText.columns(line) <= max(0, width - 1), "\(width): \(line)")
                #expect(!line.unicodeScalars.contains { $0.value < 0x20 || $0.value == 0x7F }, "\(line.debugDescription)")
            }
        }
    }

    @Test("a wide terminal shows every part and the name; a narrow one keeps the elapsed time and percentage")
    func parts() {
        let wide = ProgressLine.render(snapshot(["big.bin"]), width: 120)
        #expect(wide == "put 0:04 37% 3/10 files 450.0 MiB/1.2 GiB 112.5 MiB/s ETA 0:06 big.bin", "\(wide)")
        let two = ProgressLine.render(snapshot(["a.bin", "b.bin", "c.bin"]), width: 120)
        #expect(two.hasSuffix(" a.bin (+2)"), "\(two)")
        let narrow = ProgressLine.render(snapshot(["big.bin"]), width: 20)
        #expect(narrow.hasPrefix("put 0:04 37%"), "\(narrow)")
        // At 40 columns the name keeps a dozen columns; the rate, the time left and the bytes make way.
        let forty = ProgressLine.render(snapshot(["写真-とても長い名前のファイル.bin"]), width: 40)
        #expect(forty.hasPrefix("put 0:04 37% 3/10 files 写真") && TerminalText.columns(forty) <= 39, "\(forty)")
        #expect(ProgressLine.render(snapshot([], files: (0, 0), bytes: (0, 0)), width: 80) == "put 0:04")
    }

    @Test("control characters are escaped and wide characters count two columns")
    func columns() {
        #expect(displayed("a\nb\u{1B}c") == "a\\nb\\u{1b}c")
        #expect(TerminalText.columns("abc") == 3)
        #expect(TerminalText.columns("写真") == 4)
        #expect(TerminalText.columns("a\n") == 3)  // "a\n" is shown as three characters
        let cut = TerminalText.fitted("写真写真写真写真", width: 9)
        #expect(cut == "写真写…" && TerminalText.columns(cut) <= 9, "\(cut)")
        #expect(TerminalText.fitted("abcdef", width: 6) == "abcdef")
        #expect(TerminalText.fitted("abcdefg", width: 6) == "abcd…")
        #expect(TerminalText.fitted("a\u{1B}[2J", width: 40) == "a\\u{1b}[2J")
    }

    @Test("durations, ETA and the fraction")
    func numbers() {
        #expect(ProgressLine.duration(0) == "0:00")
        #expect(ProgressLine.duration(65) == "1:05")
        #expect(ProgressLine.duration(3725) == "1:02:05")
        let half = snapshot([], bytes: (50, 100), elapsed: 10)
        #expect(half.fraction == 0.5 && half.secondsRemaining == 10)
        #expect(snapshot([], files: (1, 4), bytes: (0, 0)).fraction == 0.25)
        #expect(snapshot([], bytes: (100, 100)).secondsRemaining == nil)
    }

    @Test("the model counts from many threads at once")
    func concurrentCounts() async {
        let progress = TransferProgress(phase: "put", totalFiles: 100, totalBytes: 100 * 1000, totalsGiven: true)
        await withTaskGroup(of: Void.self) { group in
            for file in 0..<100 {
                group.addTask {
                    progress.begin("f\(file)")
                    for _ in 0..<10 { progress.advance(100) }
                    progress.learnedSize(12345)  // totals given: ignored
                    progress.end("f\(file)")
                }
            }
        }
        let s = progress.snapshot
        #expect(s.filesDone == 100 && s.bytesDone == 100_000 && s.totalBytes == 100_000 && s.current.isEmpty)
    }
}
