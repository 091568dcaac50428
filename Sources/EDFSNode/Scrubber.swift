import EDFSFormat

/// Reads every stored file of every user (objects, manifests, keyslot) and checks every block against its checksum
/// (docs/STORAGE.md, "Reading and scrubbing"). Blocking: call from a thread pool.
public struct Scrubber: Sendable {
    /// The store whose files are checked.
    public let store: ObjectStore

    /// A scrubber of `store`'s files.
    public init(store: ObjectStore) {
        self.store = store
    }

    /// What a scrub found.
    public struct Report: Equatable, Sendable {
        public var filesChecked = 0
        public var bytesChecked: UInt64 = 0
        /// Paths (relative to the data directory) whose footer or a block failed its checksum.
        public var corrupt: [String] = []
    }

    /// Reads every stored file of every user and checks every block.
    public func scrub() throws(StoreError) -> Report {
        var report = Report()
        for user in try FileIO.listDirectory(store.root + "/users").sorted() where NameRules.isValidUserName(user) {
            let base = "users/" + user
            var files: [(relative: String, what: String)] = []
            for namespace in [StoreNamespace.objects, .manifests] {
                for name in try FileIO.listDirectory(store.root + "/" + base + "/" + namespace.rawValue).sorted()
                where WireName.isValidID(name) {
                    files.append((base + "/" + namespace.rawValue + "/" + name, namespace.what))
                }
            }
            if (try? FileIO.listDirectory(store.root + "/" + base).contains(MetadataStore.keyslotName)) == true {
                files.append((base + "/" + MetadataStore.keyslotName, "keyslot"))
            }
            for (relative, what) in files {
                report.filesChecked += 1
                do throws(StoreError) {
                    let reader = try ObjectReader(path: store.root + "/" + relative, what: what)
                    try reader.verifyAll()
                    report.bytesChecked += reader.length
                } catch .checksumMismatch {
                    report.corrupt.append(relative)
                } catch .notFound {
                    report.filesChecked -= 1  // removed while scrubbing
                }
            }
        }
        return report
    }
}
