/// A number of bytes, parsed from and printed for people.
///
/// Text form: a decimal number, optionally with a fraction, then an optional unit, with at most one
/// space between them. Every unit is binary: `K`/`Ki`/`KiB` = 1024, `M`/`Mi`/`MiB` = 1024², then `G`, `T`,
/// `P`, `E`; `B` or nothing = bytes. Units are case-insensitive. `KB`, `MB`, `GB`, … are rejected as
/// ambiguous (SI says 1000). A fraction must come out as a whole number of bytes (`1.5K` = 1536, `0.1K` fails).
/// Negative numbers, overflow past `Int.max` and anything else are rejected.
public struct ByteCount: Hashable, Comparable, Sendable, CustomStringConvertible {
    public static let kibi = 1 << 10
    public static let mebi = 1 << 20
    public static let gibi = 1 << 30

    /// The count, never negative.
    public let bytes: Int

    /// A count of `bytes` (clamped at 0 from below).
    public init(_ bytes: Int) { self.bytes = max(0, bytes) }

    /// Parses text such as `1G`, `512M`, `4KiB`, `1.5 GiB` or `1048576`.
    public init(parsing text: String) throws(ByteCountError) {
        bytes = try Self.parse(text)
    }

    public static func < (lhs: ByteCount, rhs: ByteCount) -> Bool { lhs.bytes < rhs.bytes }

    /// Human form with one decimal in the largest binary unit that fits, e.g. `512 B`, `1.5 MiB`, `1.0 GiB`.
    public var description: String { Self.humanReadable(bytes) }

    /// The shortest exact form, which parses back to the same count: `1G`, `1536K`, `1000`.
    public var exactText: String {
        var value = bytes
        var unitIndex = 0
        while value != 0, value % 1024 == 0, unitIndex < Self.units.count - 1 {
            value /= 1024
            unitIndex += 1
        }
        return unitIndex == 0 ? String(value) : "\(value)\(Self.units[unitIndex].letter)"
    }

    /// Human form of any byte count (see `description`).
    public static func humanReadable(_ bytes: Int) -> String {
        guard bytes >= 1024 else { return "\(max(0, bytes)) B" }
        var unitIndex = 1
        while unitIndex < units.count - 1, bytes >= units[unitIndex + 1].multiplier {
            unitIndex += 1
        }
        // Tenths of the unit, rounded half up; bump to the next unit when rounding reaches 1024.0.
        var tenths = (Double(bytes) / Double(units[unitIndex].multiplier) * 10).rounded()
        if tenths >= 10240, unitIndex < units.count - 1 {
            unitIndex += 1
            tenths = (Double(bytes) / Double(units[unitIndex].multiplier) * 10).rounded()
        }
        let whole = Int(tenths) / 10
        let tenth = Int(tenths) % 10
        return "\(whole).\(tenth) \(units[unitIndex].letter)iB"
    }

    private static let units: [(letter: String, multiplier: Int)] = [
        ("", 1), ("K", 1 << 10), ("M", 1 << 20), ("G", 1 << 30), ("T", 1 << 40), ("P", 1 << 50), ("E", 1 << 60),
    ]

    /// Longest accepted text; anything longer is junk.
    private static let maxTextLength = 64
    /// Most fraction digits accepted (more cannot change a whole byte count below 2^63).
    private static let maxFractionDigits = 18

    private static func parse(_ text: String) throws(ByteCountError) -> Int {
        let input = Array(text.utf8)
        guard input.count <= maxTextLength else { throw .malformed(text) }
        var index = 0
        func isDigit(_ c: UInt8) -> Bool { c >= UInt8(ascii: "0") && c <= UInt8(ascii: "9") }

        guard !input.isEmpty else { throw .empty }
        if input[0] == UInt8(ascii: "-") { throw .negative(text) }
        var whole = 0
        var sawDigit = false
        while index < input.count, isDigit(input[index]) {
            let (times10, o1) = whole.multipliedReportingOverflow(by: 10)
            let (sum, o2) = times10.addingReportingOverflow(Int(input[index] - UInt8(ascii: "0")))
            guard !o1, !o2 else { throw .overflow(text) }
            whole = sum
            sawDigit = true
            index += 1
        }
        var fraction = 0
        var fractionDigits = 0
        if index < input.count, input[index] == UInt8(ascii: ".") {
            index += 1
            while index < input.count, isDigit(input[index]) {
                guard fractionDigits < maxFractionDigits else { throw .malformed(text) }
                fraction = fraction * 10 + Int(input[index] - UInt8(ascii: "0"))
                fractionDigits += 1
                index += 1
            }
            guard fractionDigits > 0 else { throw .malformed(text) }
        }
        guard sawDigit else { throw .malformed(text) }
        if index < input.count, input[index] == UInt8(ascii: " ") {
            index += 1
            guard index < input.count else { throw .malformed(text) }
        }
        let unitText = String(decoding: input[index...], as: UTF8.self)
        let multiplier = try multiplier(for: unitText, in: text)

        let (scaled, overflow) = whole.multipliedReportingOverflow(by: multiplier)
        guard !overflow else { throw .overflow(text) }
        guard fractionDigits > 0 else { return scaled }
        // fraction / 10^digits × multiplier must be whole; compute exactly in 128 bits.
        var power: UInt64 = 1
        for _ in 0..<fractionDigits { power *= 10 }
        let product = UInt64(fraction).multipliedFullWidth(by: UInt64(multiplier))
        let (quotient, remainder) = power.dividingFullWidth(product)
        guard remainder == 0 else { throw .notWholeBytes(text) }
        guard quotient <= UInt64(Int.max) else { throw .overflow(text) }
        let (total, o3) = scaled.addingReportingOverflow(Int(quotient))
        guard !o3 else { throw .overflow(text) }
        return total
    }

    private static func multiplier(for unit: String, in text: String) throws(ByteCountError) -> Int {
        let lower = unit.lowercased()
        if lower.isEmpty || lower == "b" { return 1 }
        for (letter, multiplier) in units.dropFirst() {
            let l = letter.lowercased()
            if lower == l || lower == l + "i" || lower == l + "ib" { return multiplier }
            if lower == l + "b" { throw .ambiguousUnit(unit) }
        }
        throw .malformed(text)
    }
}
