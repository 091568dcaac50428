import EDFSClient
import Foundation

/// Damage done to a node's stored files behind its back, as a failing disk or a meddling operator would.
public enum DiskDamage {
    /// Inverts one bit of the byte at `offset`.
    public static func flipByte(_ path: String, at offset: UInt64) throws {
        let handle = try FileHandle(forUpdating: URL(fileURLWithPath: path))
        defer { try? handle.close() }
        try handle.seek(toOffset: offset)
        guard let byte = try handle.read(upToCount: 1)?.first else { throw DamageError.pastTheEnd(path, offset) }
        try handle.seek(toOffset: offset)
        try handle.write(contentsOf: [byte ^ 0x40])
    }

    /// Cuts the file to `length` bytes.
    public static func truncate(_ path: String, to length: UInt64) throws {
        let handle = try FileHandle(forUpdating: URL(fileURLWithPath: path))
        defer { try? handle.close() }
        try handle.truncate(atOffset: length)
    }

    public enum DamageError: Error {
        case pastTheEnd(String, UInt64)
    }
}

extension ClientCluster {
    /// Fetches every file of `files` (name → content) in one session; returns the names whose bytes differ.
    public func mismatchedFiles(_ files: [String: [UInt8]], heal: Bool = false) async throws -> [String] {
        try await withSession { session in
            var wrong = [String]()
            for (name, content) in files.sorted(by: { $0.key < $1.key }) {
                let out = scratch("read-back")
                try await GetOperation(session).run(name: name, to: .file(out), heal: heal)
                if try Array(Data(contentsOf: URL(fileURLWithPath: out))) != content { wrong.append(name) }
            }
            return wrong
        }
    }
}
