import EDFSFormat
import EDFSCrypto

/// Folders a session has seen live or made; a removal or rename of a folder forgets what it touched.
final class KnownFolders: Sendable {
    private let folders = PthreadMutex(Set<[UInt8]>())

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
