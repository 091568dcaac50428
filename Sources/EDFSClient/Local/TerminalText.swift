/// `text` with control characters (newlines, tabs, escapes, C1 controls, line and paragraph separators) shown as
/// escapes, so a stored name cannot break a line of output or imitate another one.
public func displayed(_ text: String) -> String {
    var result = ""
    for scalar in text.unicodeScalars {
        switch scalar {
        case "\n": result += "\\n"
        case "\t": result += "\\t"
        case "\r": result += "\\r"
        case _ where scalar.value < 0x20 || (0x7F...0x9F).contains(scalar.value) || scalar.value == 0x2028
            || scalar.value == 0x2029:
            result += "\\u{" + String(scalar.value, radix: 16) + "}"
        default: result.unicodeScalars.append(scalar)
        }
    }
    return result
}

/// Terminal columns, counted conservatively: a printable ASCII character takes one, anything else two (wide CJK
/// and emoji take two; combining marks and narrow letters take fewer, so a line is at worst shorter than it could
/// be, never longer). Control characters are escaped first (`displayed`), so none reaches the terminal.
public enum TerminalText {
    /// The columns `text` may take at most, once escaped.
    public static func columns(_ text: String) -> Int {
        displayed(text).unicodeScalars.reduce(0) { $0 + columns(of: $1) }
    }

    /// `text` escaped and cut to at most `width` columns; a cut ends in "…" (counted as two columns).
    public static func fitted(_ text: String, width: Int) -> String {
        let shown = displayed(text)
        guard width > 0 else { return "" }
        if columns(shown) <= width { return shown }
        var result = ""
        var used = 0
        let budget = width - 2
        for scalar in shown.unicodeScalars {
            let next = columns(of: scalar)
            guard used + next <= budget else { break }
            used += next
            result.unicodeScalars.append(scalar)
        }
        return width >= 2 ? result + "…" : result
    }

    private static func columns(of scalar: Unicode.Scalar) -> Int { (0x20..<0x7F).contains(scalar.value) ? 1 : 2 }
}
