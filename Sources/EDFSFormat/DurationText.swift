/// Times written as in config files (`30`, `30s`, `500ms`, `5m`, `1h`; docs/CONFIG.md), for command-line options.
public enum DurationText {
    /// The time `text` says, or nil when it is not one (or longer than about 31,700 years).
    public static func parse(_ text: String) -> Duration? {
        ConfigSettings.parseSeconds(text).map { .milliseconds(Int64(($0 * 1000).rounded())) }
    }
}
