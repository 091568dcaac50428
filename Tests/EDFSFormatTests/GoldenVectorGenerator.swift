import Foundation
import Testing

/// Rewrites every file in Vectors/ from `GoldenVectors` — only when run deliberately:
/// `EDFS_REGENERATE_VECTORS=1 swift test --filter GoldenVectorGenerator`. Review the diff before committing.
@Suite("Golden vector generator")
struct GoldenVectorGenerator {
    @Test("regenerate Vectors/*.bin", .enabled(if: ProcessInfo.processInfo.environment["EDFS_REGENERATE_VECTORS"] == "1"))
    func regenerate() throws {
        let folder = URL(fileURLWithPath: #filePath).deletingLastPathComponent().appendingPathComponent("Vectors")
        try FileManager.default.createDirectory(at: folder, withIntermediateDirectories: true)
        for (name, make) in GoldenVectors.all {
            try Data(make()).write(to: folder.appendingPathComponent(name), options: .atomic)
        }
    }
}
