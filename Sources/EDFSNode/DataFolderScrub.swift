#if canImport(Glibc)
import Glibc
#elseif canImport(Darwin)
import Darwin
#endif

/// `edfs node scrub`: a scrub of the data folder of a node that is not running (docs/STORAGE.md). It refuses a folder
/// that is not a node's data folder (creating nothing there) and one a running node holds (`DataFolderLock`), since
/// it moves and removes files without that node's per-user locks.
public enum DataFolderScrub {
    /// Why the scrub did not run.
    public enum Refusal: Error, CustomStringConvertible, Sendable {
        /// The folder is missing, or is not a node data folder.
        case notADataFolder(path: String, why: String)
        /// A node is serving the folder.
        case nodeRunning(path: String)
        /// The folder could not be read or changed.
        case store(StoreError)

        public var description: String {
            switch self {
            case let .notADataFolder(path, why): return "\(path) is not a node data folder (\(why))"
            case let .nodeRunning(path):
                return "a node is running on \(path): stop it first, or let its ScrubInterval: setting scrub it"
            case let .store(error): return error.description
            }
        }
    }

    /// Checks every stored file of the data folder `path`, then does what `options` asks.
    public static func run(path: String, options: ScrubOptions) throws(Refusal) -> ScrubReport {
        var info = stat()
        guard stat(path, &info) == 0 else { throw .notADataFolder(path: path, why: "no such folder") }
        guard (info.st_mode & S_IFMT) == S_IFDIR else { throw .notADataFolder(path: path, why: "not a folder") }
        var users = stat()
        guard stat(path + "/users", &users) == 0, (users.st_mode & S_IFMT) == S_IFDIR else {
            throw .notADataFolder(path: path, why: "it has no users/ folder")
        }
        let held: DataFolderLock?
        do throws(StoreError) {
            held = try DataFolderLock.acquire(root: path, exclusive: true)
        } catch {
            throw .store(error)
        }
        guard let lock = held else { throw .nodeRunning(path: path) }
        defer { lock.release() }
        do throws(StoreError) {
            return try Scrubber(store: ObjectStore(root: path)).scrub(options)
        } catch {
            throw .store(error)
        }
    }
}
