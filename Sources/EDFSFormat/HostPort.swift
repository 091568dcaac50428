/// A network endpoint written `HOST:PORT`: an IPv4 address (`127.0.0.1:10001`), a host name
/// (`node1.example:10001`) or a bracketed IPv6 address (`[::1]:10001`). Port 1–65535
/// (0 only when parsed with `allowPortZero`).
public struct HostPort: Hashable, Sendable, CustomStringConvertible {
    /// The host without brackets: `127.0.0.1`, `node1.example` or `::1`.
    public let host: String
    public let port: Int

    /// An endpoint from parts already checked by the caller; throws on a bad host or port.
    public init(host: String, port: Int) throws(HostPortError) {
        guard (1...65535).contains(port) else { throw .badPort(String(port)) }
        guard Self.isValidIPv4(host) || Self.isValidHostName(host) || Self.isValidIPv6(host) else {
            throw .badHost(host)
        }
        self.host = host
        self.port = port
    }

    /// Parses `HOST:PORT` or `[IPV6]:PORT`. With `allowPortZero` (a listen address: the system picks a free
    /// port) the port may also be 0.
    public init(parsing text: String, allowPortZero: Bool = false) throws(HostPortError) {
        let hostPart: Substring
        let portPart: Substring
        if text.hasPrefix("[") {
            guard let close = text.firstIndex(of: "]") else { throw .badHost(text) }
            hostPart = text[text.index(after: text.startIndex)..<close]
            let rest = text[text.index(after: close)...]
            guard rest.hasPrefix(":") else { throw .missingPort(text) }
            portPart = rest.dropFirst()
            guard Self.isValidIPv6(hostPart) else { throw .badHost(String(hostPart)) }
        } else {
            guard let colon = text.lastIndex(of: ":") else { throw .missingPort(text) }
            hostPart = text[..<colon]
            portPart = text[text.index(after: colon)...]
            if hostPart.contains(":") { throw .unbracketedIPv6(text) }
            guard !hostPart.isEmpty else { throw .emptyHost(text) }
            guard Self.isValidIPv4(hostPart) || Self.isValidHostName(hostPart) else {
                throw .badHost(String(hostPart))
            }
        }
        guard !portPart.isEmpty, portPart.utf8.count <= 5,
              portPart.utf8.allSatisfy({ $0 >= UInt8(ascii: "0") && $0 <= UInt8(ascii: "9") }),
              let port = Int(portPart), ((allowPortZero ? 0 : 1)...65535).contains(port)
        else { throw .badPort(String(portPart)) }
        host = String(hostPart)
        self.port = port
    }

    /// `host:port`, with brackets around an IPv6 host; parses back to the same value.
    public var description: String { Self.text(host: host, port: port) }

    /// The one `host:port` text of edfs, with brackets around an IPv6 host, for any host and port (unchecked:
    /// also for printing addresses a socket reports, such as a listener's port 0 or a peer).
    public static func text(host: String, port: Int) -> String {
        host.contains(":") ? "[\(host)]:\(port)" : "\(host):\(port)"
    }

    /// Four decimal parts 0–255, each 1–3 digits.
    public static func isValidIPv4(_ text: some StringProtocol) -> Bool {
        let text = String(text)
        let parts = text.split(separator: ".", omittingEmptySubsequences: false)
        guard parts.count == 4 else { return false }
        return parts.allSatisfy { part in
            guard (1...3).contains(part.utf8.count),
                  part.utf8.allSatisfy({ $0 >= UInt8(ascii: "0") && $0 <= UInt8(ascii: "9") }),
                  let value = Int(part) else { return false }
            return value <= 255
        }
    }

    /// A DNS name (RFC 1123): dot-separated labels of letters, digits and `-`, each 1–63 characters not
    /// starting or ending with `-`, at most 253 characters in all, and not all-numeric (that is IPv4's job).
    public static func isValidHostName(_ text: some StringProtocol) -> Bool {
        let text = String(text)
        guard (1...253).contains(text.utf8.count) else { return false }
        let labels = text.split(separator: ".", omittingEmptySubsequences: false)
        let labelsValid = labels.allSatisfy { label in
            guard (1...63).contains(label.utf8.count),
                  label.utf8.first != UInt8(ascii: "-"), label.utf8.last != UInt8(ascii: "-") else { return false }
            return label.utf8.allSatisfy { c in
                switch c {
                case UInt8(ascii: "a")...UInt8(ascii: "z"), UInt8(ascii: "A")...UInt8(ascii: "Z"),
                     UInt8(ascii: "0")...UInt8(ascii: "9"), UInt8(ascii: "-"):
                    return true
                default:
                    return false
                }
            }
        }
        guard labelsValid, let last = labels.last else { return false }
        // The top-level label is never all digits; this keeps "1.2.3.999" from passing as a name.
        return !last.utf8.allSatisfy { $0 >= UInt8(ascii: "0") && $0 <= UInt8(ascii: "9") }
    }

    /// An IPv6 address in text form (RFC 4291 §2.2): eight groups of 1–4 hex digits, at most one `::`,
    /// optionally ending in an embedded IPv4 address. Zone ids (`%eth0`) are not accepted.
    public static func isValidIPv6(_ text: some StringProtocol) -> Bool {
        let text = String(text)
        guard (2...45).contains(text.utf8.count) else { return false }
        let halves = splitAtDoubleColon(text)
        guard halves.count <= 2 else { return false }
        func groups(_ part: Substring, allowIPv4Tail: Bool) -> Int? {
            if part.isEmpty { return 0 }
            let pieces = part.split(separator: ":", omittingEmptySubsequences: false)
            var count = 0
            for (i, piece) in pieces.enumerated() {
                if allowIPv4Tail, i == pieces.count - 1, piece.contains(".") {
                    guard isValidIPv4(piece) else { return nil }
                    count += 2
                    continue
                }
                guard (1...4).contains(piece.utf8.count), piece.utf8.allSatisfy(Self.isHexDigit) else { return nil }
                count += 1
            }
            return count
        }
        if halves.count == 1 {
            return groups(halves[0], allowIPv4Tail: true) == 8
        }
        guard let head = groups(halves[0], allowIPv4Tail: false),
              let tail = groups(halves[1], allowIPv4Tail: true) else { return false }
        return head + tail <= 7
    }

    /// Splits at each `::`; `"a::b"` gives `["a", "b"]`, `"::"` gives `["", ""]`.
    private static func splitAtDoubleColon(_ text: String) -> [Substring] {
        var result: [Substring] = []
        var start = text.startIndex
        var index = text.startIndex
        while index < text.endIndex {
            let next = text.index(after: index)
            if text[index] == ":", next < text.endIndex, text[next] == ":" {
                result.append(text[start..<index])
                start = text.index(after: next)
                index = start
            } else {
                index = next
            }
        }
        result.append(text[start...])
        return result
    }

    private static func isHexDigit(_ c: UInt8) -> Bool {
        switch c {
        case UInt8(ascii: "0")...UInt8(ascii: "9"), UInt8(ascii: "a")...UInt8(ascii: "f"),
             UInt8(ascii: "A")...UInt8(ascii: "F"):
            return true
        default:
            return false
        }
    }
}

/// Why a `HOST:PORT` text could not be read.
public enum HostPortError: Error, Equatable, Sendable, CustomStringConvertible {
    case missingPort(String)
    case emptyHost(String)
    case unbracketedIPv6(String)
    case badHost(String)
    case badPort(String)

    public var description: String {
        switch self {
        case let .missingPort(text): return "address \"\(MessageText.clip(text, limit: 60))\" has no port (expected HOST:PORT)"
        case let .emptyHost(text): return "address \"\(MessageText.clip(text, limit: 60))\" has an empty host (expected HOST:PORT)"
        case let .unbracketedIPv6(text):
            return "address \"\(MessageText.clip(text, limit: 60))\": put an IPv6 address in brackets, e.g. [::1]:10001"
        case let .badHost(host): return "bad host \"\(MessageText.clip(host))\" (IPv4 address, host name, or [IPv6])"
        case let .badPort(port): return "bad port \"\(MessageText.clip(port))\" (1–65535)"
        }
    }
}
