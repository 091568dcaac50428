/// The `Key: value` settings edfs knows, the kind of value each takes, and the value syntaxes.
/// docs/CONFIG.md documents the same table; keep them in step.
enum ConfigSettings {
    enum Kind: Sendable {
        /// A file or folder; relative paths resolve against the config file's folder.
        case path
        /// A whole number in the range.
        case integer(ClosedRange<Int>)
        /// A byte size (`ByteCount` syntax) in the range.
        case bytes(ClosedRange<Int>)
        /// A time (`parseSeconds` syntax) in the range, in seconds.
        case seconds(ClosedRange<Double>)
        /// `yes` or `no` (ignoring case).
        case boolean
        /// `HOST:PORT` (`HostPort` syntax; port 0 lets the system pick a free port).
        case address
    }

    struct Known: Sendable {
        let name: String
        let kind: Kind
    }

    /// Largest segment a config may ask for.
    static let maxSegmentSize = 64 * ByteCount.mebi
    /// Most `Server` lines a config may hold (so also the most replicas).
    static let maxServers = 1024

    static let known: [Known] = [
        Known(name: "Keys", kind: .path),
        Known(name: "CA", kind: .path),
        // Upper bounds of Replicas and WriteQuorum depend on the file's Server lines: checked after the last line.
        Known(name: "Replicas", kind: .integer(1...maxServers)),
        Known(name: "WriteQuorum", kind: .integer(1...maxServers)),
        Known(name: "SegmentSize", kind: .bytes(1...maxSegmentSize)),
        // Client: files up to this size (and one segment) are stored inside their manifest (docs/FORMAT.md §3).
        Known(name: "InlineLimit", kind: .bytes(0...ManifestBody.maximumInlineBytes)),
        Known(name: "MaxFrameSize", kind: .bytes(ByteCount.kibi...ByteCount.gibi)),
        Known(name: "MaxObjectSize", kind: .bytes(1...Int.max)),
        Known(name: "MaxConnections", kind: .integer(1...1_000_000)),
        Known(name: "MaxStreams", kind: .integer(1...65_536)),
        Known(name: "LoginTimeout", kind: .seconds(0.001...3_600)),
        Known(name: "IdleTimeout", kind: .seconds(0.001...604_800)),
        // Node denial-of-service limits (docs/CONFIG.md).
        Known(name: "MaxUnauthenticatedConnections", kind: .integer(1...1_000_000)),
        Known(name: "MaxConnectionsPerUser", kind: .integer(1...1_000_000)),
        Known(name: "MaxConnectionsPerAddress", kind: .integer(1...1_000_000)),
        Known(name: "MaxGetStreamsPerUser", kind: .integer(1...1_000_000)),
        Known(name: "MaxGetStreamsPerAddress", kind: .integer(1...1_000_000)),
        Known(name: "MaxGetWindow", kind: .bytes(ByteCount.kibi...ByteCount.gibi)),
        Known(name: "ReadBufferBudget", kind: .bytes(ByteCount.mebi...(64 * ByteCount.gibi))),
        // PBKDF2 work factor of keyslots this client creates; 100,000 is the floor a client accepts.
        Known(name: "KDFIterations", kind: .integer(100_000...100_000_000)),
        // Node: whether legacy MD5 logins (LOGIN method 1) are accepted at all.
        Known(name: "LegacyMD5Logins", kind: .boolean),
        // Node: whether objects of 4 MiB or more are written and served past the page cache (O_DIRECT).
        Known(name: "DirectIO", kind: .boolean),
        // Node: how often a running node scrubs and collects garbage (absent: never), and how old an unreferenced
        // object or a temporary file must be before it is removed (docs/STORAGE.md).
        Known(name: "ScrubInterval", kind: .seconds(1...2_592_000)),
        Known(name: "OrphanGracePeriod", kind: .seconds(0.001...31_536_000)),
        // Node: where its Prometheus endpoint listens (absent: no endpoint; docs/METRICS.md).
        Known(name: "MetricsListen", kind: .address),
    ]

    /// The known setting called `key`, compared ignoring case.
    static func known(_ key: some StringProtocol) -> Known? {
        let lower = key.lowercased()
        return known.first { $0.name.lowercased() == lower }
    }

    /// Checks `value` against `kind`; on failure returns what was expected, for the error message.
    static func problem(with value: String, kind: Kind) -> String? {
        switch kind {
        case .path:
            return nil
        case let .integer(range):
            guard let number = parseInteger(value), range.contains(number) else {
                return "a whole number \(range.lowerBound)…\(range.upperBound)"
            }
            return nil
        case let .bytes(range):
            guard let size = try? ByteCount(parsing: value), range.contains(size.bytes) else {
                let low = ByteCount(range.lowerBound).exactText
                let bounds = range.upperBound == Int.max
                    ? "of at least \(low)" : "\(low)…\(ByteCount(range.upperBound).exactText)"
                let example = range.upperBound < ByteCount.mebi ? ByteCount(range.upperBound).exactText : "1M"
                return "a size \(bounds) bytes, units K, M, G are binary, e.g. \(example)"
            }
            return nil
        case let .seconds(range):
            guard let seconds = parseSeconds(value), range.contains(seconds) else {
                let low = range.lowerBound >= 1 ? "at least \(Int(range.lowerBound)) s" : "more than 0"
                return "a time of at most \(Int(range.upperBound)) s, \(low), e.g. 30, 30s, 500ms, 5m, 1h"
            }
            return nil
        case .boolean:
            return parseBoolean(value) == nil ? "yes or no (on or off)" : nil
        case .address:
            return (try? HostPort(parsing: value, allowPortZero: true)) == nil
                ? "HOST:PORT, e.g. 127.0.0.1:9100 or [::1]:9100" : nil
        }
    }

    /// `yes` or `on` → true, `no` or `off` → false (ignoring case); anything else nil.
    static func parseBoolean(_ text: String) -> Bool? {
        switch text.lowercased() {
        case "yes", "on": return true
        case "no", "off": return false
        default: return nil
        }
    }

    /// Decimal digits only (no sign), at most 18 of them.
    static func parseInteger(_ text: String) -> Int? {
        guard (1...18).contains(text.utf8.count), text.utf8.allSatisfy(isDigit) else { return nil }
        return Int(text)
    }

    /// Longest time any setting may give, in seconds.
    static let maxSeconds: Double = 1e12

    /// A time in seconds: a decimal number, then optionally (one space allowed before it) `ms`, `s`, `m` or `h`.
    static func parseSeconds(_ text: String) -> Double? {
        let utf8 = Array(text.utf8)
        guard utf8.count <= 32 else { return nil }
        var end = 0
        while end < utf8.count, isDigit(utf8[end]) || utf8[end] == UInt8(ascii: ".") { end += 1 }
        let numberText = String(decoding: utf8[..<end], as: UTF8.self)
        guard numberText.utf8.contains(where: isDigit), numberText.utf8.filter({ $0 == UInt8(ascii: ".") }).count <= 1,
              numberText.utf8.first != UInt8(ascii: "."), numberText.utf8.last != UInt8(ascii: "."),
              let number = Double(numberText) else { return nil }
        var unitStart = end
        if unitStart < utf8.count, utf8[unitStart] == UInt8(ascii: " ") {
            unitStart += 1
            guard unitStart < utf8.count else { return nil }
        }
        let seconds: Double
        switch String(decoding: utf8[unitStart...], as: UTF8.self).lowercased() {
        case "", "s": seconds = number
        case "ms": seconds = number / 1000
        case "m": seconds = number * 60
        case "h": seconds = number * 3600
        default: return nil
        }
        // At most about 31,700 years, so that milliseconds always fit in Int64.
        return seconds <= maxSeconds ? seconds : nil
    }

    private static func isDigit(_ c: UInt8) -> Bool { c >= UInt8(ascii: "0") && c <= UInt8(ascii: "9") }
}
