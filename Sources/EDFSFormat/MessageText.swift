/// Helpers for putting untrusted text into one-line error messages.
enum MessageText {
    /// `text` with control characters replaced by `?` and cut to `limit` characters (with `…`).
    static func clip(_ text: some StringProtocol, limit: Int = 40) -> String {
        let printable = String(String.UnicodeScalarView(text.unicodeScalars.map {
            $0.value < 0x20 || $0.value == 0x7f ? "?" : $0
        }))
        return printable.count > limit ? String(printable.prefix(limit)) + "…" : printable
    }
}
