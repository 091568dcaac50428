/// A stored name as a dictionary key compared byte for byte: Swift's `String` equality treats canonically equivalent
/// spellings (NFC and NFD "é") as one, which would merge two stored names into one mount entry (attack finding:
/// `cp -r` out of the mount silently missed the twin).
struct ByteName: Hashable, Sendable {
    let text: String

    init(_ text: String) { self.text = text }

    static func == (a: ByteName, b: ByteName) -> Bool { a.text.utf8.elementsEqual(b.text.utf8) }

    func hash(into hasher: inout Hasher) {
        hasher.combine(text.utf8.count)
        for byte in text.utf8 { hasher.combine(byte) }
    }
}
