@testable import EDFSMount
import Foundation
import Glibc
import Testing

/// The spool is the only plaintext on local disk: unnamed, mode 0600, freed when closed.
@Suite("Spool")
struct SpoolTests {
    @Test("a spool file has no name in its folder, is mode 0600, and is readable through /proc/self/fd while open")
    func unnamedPrivateFile() throws {
        let folder = FileManager.default.temporaryDirectory.appendingPathComponent("spool-\(UUID().uuidString)").path
        try FileManager.default.createDirectory(atPath: folder, withIntermediateDirectories: false)
        defer { try? FileManager.default.removeItem(atPath: folder) }
        let spool = try Spool.folder(option: folder)
        var file: SpoolFile? = try spool.create()
        let bytes = Array("secret plaintext".utf8)
        let written = bytes.withUnsafeBytes { file?.write($0, at: 0) }
        #expect(written == .some(nil))
        #expect(try FileManager.default.contentsOfDirectory(atPath: folder).isEmpty, "no name in the folder")
        var info = stat()
        #expect(fstat(file?.descriptor ?? -1, &info) == 0)
        #expect(info.st_mode & 0o777 == 0o600 && info.st_nlink == 0)
        let path = try #require(file?.path)
        #expect(try Array(Data(contentsOf: URL(fileURLWithPath: path))) == bytes, "the put reads it by /proc/self/fd")
        file = nil  // closed: nothing is left
        #expect(try FileManager.default.contentsOfDirectory(atPath: folder).isEmpty)
        #expect(throws: SpoolError.self) { try Spool.folder(option: folder + "/missing") }
    }
}
