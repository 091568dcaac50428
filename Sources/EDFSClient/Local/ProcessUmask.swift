import Foundation
import Glibc

/// The process umask, from /proc/self/status (reading it with umask(2) means setting it, which races with
/// other threads creating files); 022 when the kernel does not say.
enum ProcessUmask {
    static let value: mode_t = {
        guard let file = fopen("/proc/self/status", "r") else { return 0o022 }
        defer { fclose(file) }
        var line = [CChar](repeating: 0, count: 256)
        while fgets(&line, Int32(line.count), file) != nil {
            let text = String(decoding: line.prefix { $0 != 0 }.map { UInt8(bitPattern: $0) }, as: UTF8.self)
            if text.hasPrefix("Umask:"), let mask = mode_t(text.dropFirst(6).trimmingCharacters(in: .whitespacesAndNewlines), radix: 8) {
                return mask
            }
        }
        return 0o022
    }()
}
