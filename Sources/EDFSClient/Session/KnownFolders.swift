import EDFSFormat
import EDFSCrypto

/// Folders a session has seen live or made; a removal or rename of a folder forgets what it touched.
final class KnownFolders: Sendable {
    private let folders = PthreadMutex(Set<[UInt8]>())
    /// Folder entries being made now, so that concurrent puts into one new folder make it once.
    let creations = FolderCreations()

    func contains(_ path: String) -> Bool { folders.withLock { $0.contains(Array(path.utf8)) } }

    func insert(_ path: String) { folders.withLock { _ = $0.insert(Array(path.utf8)) } }

    /// Forgets `folder` and everything inside it.
    func forget(_ folder: String) {
        folders.withLock { set in
            set = set.filter { path in
                let text = String(decoding: path, as: UTF8.self)
                return text != folder && !StoredPath.isInside(text, folder: folder)
            }
        }
    }
}

/// The folder entries a session is making: a second caller for the same folder awaits the first one's outcome
/// instead of reading and committing the same entry again.
actor FolderCreations {
    private var pending = [String: Task<Bool, any Error>]()

    /// `make`'s result for `folder`: its own run, or that of the run already under way.
    func once(_ folder: String, _ make: @escaping @Sendable () async throws -> Bool) async throws -> Bool {
        if let running = pending[folder] { return try await running.value }
        let task = Task { try await make() }
        pending[folder] = task
        defer { pending[folder] = nil }
        return try await task.value
    }
}
