import EDFSClient
import Foundation

/// How `edfs mount` serves the store (docs/MOUNT.md).
public struct MountOptions: Sendable {
    public var mountpoint: String
    public var readOnly = false
    /// Folder for the spool of written files (default `$XDG_RUNTIME_DIR`, else /tmp).
    public var spoolFolder: String?
    /// Seconds a listing snapshot is trusted before the next lookup lists the store again.
    public var listingRefreshSeconds: Double = 10
    /// Bound of the opened-segment cache, in MiB of plaintext (and at most 64 segments).
    public var cacheMiB = 64
    /// How far ahead of a sequential read segments are fetched.
    public var readAheadBytes = 8 << 20
    /// libfuse's own debug output on stderr (requests only, no data).
    public var debug = false

    public init(mountpoint: String) { self.mountpoint = mountpoint }
}

/// `edfs mount`: serves a session's files as a local folder through libfuse3 until unmounted (`fusermount3 -u`,
/// SIGINT, SIGTERM or SIGHUP), then returns.
public enum Mount {
    /// Lists the store, mounts it on `options.mountpoint`, calls `onMounted`, and returns after a clean unmount.
    public static func run(session: ClusterSession, options: MountOptions, onMounted: @escaping @Sendable () -> Void,
                           log: @escaping @Sendable (String) -> Void) async throws {
        let spool = try Spool.folder(option: options.spoolFolder)
        let cache = SegmentCache(capacitySegments: 64, capacityBytes: max(1, options.cacheMiB) << 20)
        let backend = ClusterBackend(session: session, cache: cache, readAheadBytes: options.readAheadBytes)
        let fileSystem = MountedFileSystem(backend: backend, spool: spool, readOnly: options.readOnly,
                                           refreshInterval: options.listingRefreshSeconds, log: log)
        // The first listing before mounting: a cluster that cannot be listed fails here, not at the first `ls`.
        let listing = try await backend.list()
        fileSystem.namespace.replace(with: listing, takenAt: fileSystem.namespace.generation, now: MountedFileSystem.now())
        let mountpoint = options.mountpoint
        try await withCheckedThrowingContinuation { (continuation: CheckedContinuation<Void, any Error>) in
            // libfuse blocks its thread for the whole mount: a thread of its own, not one of the cooperative pool.
            let thread = Thread {
                do {
                    try FUSESession.serve(fileSystem, mountpoint: mountpoint, readOnly: options.readOnly,
                                          debug: options.debug, onMounted: onMounted)
                    continuation.resume()
                } catch {
                    continuation.resume(throwing: error)
                }
            }
            thread.name = "edfs-fuse"
            thread.start()
        }
    }
}
