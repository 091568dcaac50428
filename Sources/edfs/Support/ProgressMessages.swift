import EDFSClient

/// `{"message_type":"status",…}`: one line of `--json` progress on stderr (docs/CLI.md, "Progress and summaries").
struct StatusMessage: Encodable {
    let messageType = "status"
    let action: String
    let phase: String
    let secondsElapsed: Double
    let secondsRemaining: Double?
    let percentDone: Double?
    let filesDone: Int
    let totalFiles: Int
    let bytesDone: UInt64
    let totalBytes: UInt64
    let bytesPerSecond: UInt64
    let currentFiles: [String]

    init(_ action: String, _ s: TransferProgress.Snapshot) {
        self.action = action
        phase = s.phase
        secondsElapsed = Self.rounded(s.elapsedSeconds, 3)
        secondsRemaining = s.secondsRemaining.map { Self.rounded($0, 1) }
        percentDone = s.fraction.map { Self.rounded($0, 4) }
        filesDone = s.filesDone
        totalFiles = s.totalFiles
        bytesDone = s.bytesDone
        totalBytes = s.totalBytes
        bytesPerSecond = UInt64(max(0, s.bytesPerSecond))
        currentFiles = s.current
    }

    static func rounded(_ value: Double, _ places: Int) -> Double {
        let scale = [1, 10, 100, 1000, 10000][min(places, 4)]
        return (value * Double(scale)).rounded() / Double(scale)
    }
}

/// `{"message_type":"summary",…}`: the last `--json` progress line on stderr, the final counts.
struct SummaryMessage: Encodable {
    let messageType = "summary"
    let action: String
    let phase: String
    let secondsElapsed: Double
    let filesDone: Int
    let totalFiles: Int
    let bytesDone: UInt64
    let totalBytes: UInt64
    let bytesPerSecond: UInt64

    init(_ action: String, _ s: TransferProgress.Snapshot) {
        self.action = action
        phase = s.phase
        secondsElapsed = StatusMessage.rounded(s.elapsedSeconds, 3)
        filesDone = s.filesDone
        totalFiles = s.totalFiles
        bytesDone = s.bytesDone
        totalBytes = s.totalBytes
        bytesPerSecond = UInt64(max(0, s.bytesPerSecond))
    }
}

/// One `--json` result line on stdout for each file a put stores, a get writes or a rotation moves:
/// `{"message_type":"stored"|"written"|"rotated","name":…,…}`.
struct FileMessage: Encodable {
    let messageType: String
    let name: String
    var path: String?
    var size: UInt64?
    var version: UInt64?
    var missingReplicas: Int?
}
