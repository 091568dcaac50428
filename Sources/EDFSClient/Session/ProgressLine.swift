import EDFSFormat

/// The one-line progress display of a `TransferProgress.Snapshot`, fitted to a terminal width:
/// `put 0:04 37% 3/10 files 450.0 MiB/1.2 GiB 110.0 MiB/s ETA 0:07 big.bin`.
public enum ProgressLine {
    /// The line for `snapshot`, at most `width - 1` columns (the last column is left free, so no terminal wraps),
    /// control characters in names escaped. Parts are dropped, least useful first, when the width is short.
    public static func render(_ snapshot: TransferProgress.Snapshot, width: Int) -> String {
        let room = max(0, width - 1)
        var parts: [(text: String, keep: Int)] = [(snapshot.phase, 6), (duration(snapshot.elapsedSeconds), 5)]
        if let fraction = snapshot.fraction { parts.append(("\(Int(fraction * 100))%", 7)) }
        if snapshot.totalFiles > 0 {
            parts.append(("\(snapshot.filesDone)/\(snapshot.totalFiles) file\(snapshot.totalFiles == 1 ? "" : "s")", 4))
        }
        if snapshot.bytesDone > 0 || snapshot.totalBytes > 0 {
            var bytes = size(snapshot.bytesDone)
            if snapshot.totalBytes > 0 { bytes += "/" + size(snapshot.totalBytes) }
            parts.append((bytes, 3))
            parts.append((size(UInt64(snapshot.bytesPerSecond)) + "/s", 1))
        }
        if let left = snapshot.secondsRemaining { parts.append(("ETA " + duration(left), 2)) }
        // Room for a dozen columns of the name first, by dropping the rate, the time left and the bytes (least useful
        // first); then whatever it takes for the rest to fit.
        let reserve = snapshot.current.first.map { min(13, TerminalText.columns($0) + 1) } ?? 0
        while TerminalText.columns(joined(parts)) + reserve > room,
              let drop = parts.indices.filter({ parts[$0].keep <= 3 }).min(by: { parts[$0].keep < parts[$1].keep }) {
            parts.remove(at: drop)
        }
        while parts.count > 1, TerminalText.columns(joined(parts)) > room {
            guard let drop = parts.indices.min(by: { parts[$0].keep < parts[$1].keep }) else { break }
            parts.remove(at: drop)
        }
        var line = TerminalText.fitted(joined(parts), width: room)
        if let name = snapshot.current.first {
            let more = snapshot.current.count > 1 ? " (+\(snapshot.current.count - 1))" : ""
            let free = room - TerminalText.columns(line) - 1 - TerminalText.columns(more)
            if free >= 6 { line += " " + TerminalText.fitted(name, width: free) + more }
        }
        return line
    }

    /// `m:ss`, or `h:mm:ss` from an hour on.
    public static func duration(_ seconds: Double) -> String {
        let total = Int(max(0, min(seconds, 360_000_000)))
        let (hours, minutes, secs) = (total / 3600, total / 60 % 60, total % 60)
        let mmss = (minutes < 10 && hours > 0 ? "0" : "") + "\(minutes):" + (secs < 10 ? "0" : "") + "\(secs)"
        return hours > 0 ? "\(hours):" + mmss : mmss
    }

    private static func size(_ bytes: UInt64) -> String { ByteCount.humanReadable(Int(clamping: bytes)) }

    private static func joined(_ parts: [(text: String, keep: Int)]) -> String {
        parts.map(\.text).joined(separator: " ")
    }
}
