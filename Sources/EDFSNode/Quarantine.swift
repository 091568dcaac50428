import EDFSFormat

/// The quarantine folder of a data folder, `DIR/quarantine/` (docs/STORAGE.md): corrupt stored files are moved
/// here, outside `users/`, so that no request can ever reach them, and kept for an operator to inspect or remove.
/// A file from `users/<user>/<path>` becomes `quarantine/<user>/<path>@<unix seconds>` (`.1`, `.2`, … appended
/// if that name is taken). Blocking: call from a thread pool.
struct Quarantine: Sendable {
    static let folderName = "quarantine"

    /// The data folder.
    let root: String

    /// The quarantine folder of `user`'s manifests (whose headers garbage collection still honours).
    func manifestsFolder(user: String) -> String { root + "/" + Self.folderName + "/" + user + "/manifests" }

    /// Moves `users/<user>/<inside>` into quarantine if it is still the file `expected` describes; returns the new
    /// path relative to the data folder, or nil when the file was gone or had been replaced (then it stays).
    func move(user: String, inside: String, expected: FileStatus, now: Double) throws(StoreError) -> String? {
        let source = root + "/users/" + user + "/" + inside
        var folder = root + "/" + Self.folderName
        var created: [String] = []  // folders whose entries changed (fsynced after the move)
        if try FileIO.makeDirectory(folder) { created.append(root) }
        for component in [user] + inside.split(separator: "/").dropLast().map(String.init) {
            if try FileIO.makeDirectory(folder + "/" + component) { created.append(folder) }
            folder += "/" + component
        }
        let base = (inside.split(separator: "/").last.map(String.init) ?? inside) + "@" + String(UInt64(max(0, now)))
        var name = base
        var attempt = 0
        while try FileIO.status(folder + "/" + name) != nil {
            attempt += 1
            name = base + "." + String(attempt)
        }
        guard try FileIO.move(source, to: folder + "/" + name, ifStill: expected, what: "corrupt file") else {
            return nil
        }
        for parent in created { try FileIO.fsyncDirectory(parent) }
        try FileIO.fsyncDirectory(folder)
        try FileIO.fsyncDirectory(String(source[..<(source.lastIndex(of: "/") ?? source.endIndex)]))
        let relative = folder.dropFirst(root.count + 1)
        return String(relative) + "/" + name
    }
}
