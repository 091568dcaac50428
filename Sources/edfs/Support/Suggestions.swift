import ArgumentParser

/// "Did you mean …?" for a mistyped subcommand or option: the nearest known name by edit distance, or the one name
/// the typed text starts (or is the start of).
enum Suggestions {
    /// "; did you mean X?" for a parser message naming an unknown option or subcommand of `command` in quotes, or "".
    static func didYouMean(_ message: String, command: any ParsableCommand.Type) -> String {
        let parts = message.split(separator: "'", omittingEmptySubsequences: false)
        guard parts.count >= 3 else { return "" }
        let typed = String(parts[1])
        var candidates = [String]()
        if message.hasPrefix("Unknown option") {
            candidates = longOptions(of: command)
        } else {
            for subcommand in command.configuration.subcommands {
                if let name = subcommand.configuration.commandName { candidates.append(name) }
            }
        }
        guard let near = nearest(typed, among: candidates) else { return "" }
        return "; did you mean \(near)?"
    }

    /// The nearest of `candidates` to `typed`, if one is near enough to be a likely typo.
    static func nearest(_ typed: String, among candidates: [String]) -> String? {
        let bare = typed.drop { $0 == "-" }
        let prefixed = candidates.filter { candidate in
            let name = candidate.drop { $0 == "-" }
            return !bare.isEmpty && (name.hasPrefix(bare) || bare.hasPrefix(name))
        }
        if prefixed.count == 1 { return prefixed[0] }
        let scored = candidates.map { ($0, distance(Array(bare), Array($0.drop { $0 == "-" }))) }
        guard let best = scored.min(by: { $0.1 < $1.1 }) else { return nil }
        let limit = max(1, min(2, bare.count / 3))
        guard best.1 <= limit, scored.filter({ $0.1 == best.1 }).count == 1 else { return nil }
        return best.0
    }

    /// Optimal string alignment distance (insertions, deletions, substitutions, adjacent transpositions).
    static func distance(_ a: [Character], _ b: [Character]) -> Int {
        if a.isEmpty { return b.count }
        if b.isEmpty { return a.count }
        var table = [[Int]](repeating: [Int](repeating: 0, count: b.count + 1), count: a.count + 1)
        for i in 0...a.count { table[i][0] = i }
        for j in 0...b.count { table[0][j] = j }
        for i in 1...a.count {
            for j in 1...b.count {
                let cost = a[i - 1] == b[j - 1] ? 0 : 1
                table[i][j] = min(table[i - 1][j] + 1, table[i][j - 1] + 1, table[i - 1][j - 1] + cost)
                if i > 1, j > 1, a[i - 1] == b[j - 2], a[i - 2] == b[j - 1] {
                    table[i][j] = min(table[i][j], table[i - 2][j - 2] + 1)
                }
            }
        }
        return table[a.count][b.count]
    }

    /// The long options a command's help lists ("--output", "--force", …).
    static func longOptions(of command: any ParsableCommand.Type) -> [String] {
        let help = command.helpMessage(columns: 200)
        var options = Set<String>()
        var index = help.startIndex
        while let range = help.range(of: "--", range: index..<help.endIndex) {
            var end = range.upperBound
            while end < help.endIndex, help[end].isLetter || help[end].isNumber || help[end] == "-" { end = help.index(after: end) }
            let option = String(help[range.lowerBound..<end])
            if option.count > 3 { options.insert(option) }
            index = end
        }
        return options.sorted()
    }
}
