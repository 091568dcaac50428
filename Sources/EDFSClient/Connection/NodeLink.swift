import EDFSFormat
import NIOCore

/// What the client's pipelines need of one logged-in node: the operations of docs/PROTOCOL.md after LOGIN.
/// `NodeConnection` provides it over TLS; the pipelines never see frames.
public protocol NodeLink: AnyObject, Sendable {
    /// The node's name from its HELLO.
    var nodeName: String { get }

    /// What this link's login proved (an MD5 digest, or a SCRAM verifier recomputed from the password), if known.
    var provenVerifier: LoginVerifier? { get }

    /// Starts storing `name` with exactly `length` bytes; write them, then `finish()` for the durable ack.
    func beginPut(object name: String, length: UInt64) async throws -> any ObjectUpload
    /// Streams `length` bytes of `name` from `offset` (nil: to the end).
    func get(object name: String, offset: UInt64, length: UInt64?) async throws -> any ObjectDownload
    func delete(object name: String) async throws
    /// Every object name with its stored length.
    func listObjects() async throws -> [String: UInt64]
    /// Every manifest id with its byte count.
    func listManifests() async throws -> [String: UInt64]

    /// The manifest stored under `id`, or nil when the node has none.
    func getManifest(_ id: String) async throws -> [UInt8]?
    /// The manifests stored under `ids`, in as few round trips as frames allow (GET_MANIFESTS).
    func getManifests(_ ids: [String]) async throws -> [String: WireManifestAnswer]
    /// Stores a manifest; the node refuses one that is not newer (`NodeLinkError.stale`).
    func putManifest(_ id: String, bytes: [UInt8]) async throws
    /// Stores several manifests, each checked as its own `putManifest` and answered on its own: the outcome of each
    /// item in order (nil: stored durably; else what `putManifest` would have thrown). Throws when a request fails as
    /// a whole (the connection, a reply that does not answer every item): then no item counts as stored on the node,
    /// as when a single PUT_MANIFEST's reply is lost.
    func putManifests(_ items: [WireManifestWrite]) async throws -> [(any Error)?]
    /// Removes the manifest if its stored version is at most `maxVersion`.
    func deleteManifest(_ id: String, maxVersion: UInt64) async throws

    /// The user's keyslot on this node, or nil when it has none.
    func getKeyslot() async throws -> [UInt8]?
    /// Stores a keyslot; the node refuses a stale one (`NodeLinkError.stale`).
    func putKeyslot(_ bytes: [UInt8]) async throws

    /// Replaces this user's login verifier on the node (MD5 digest or SCRAM verifier of the new password); the node
    /// keeps it in its data directory, where it overrides the config's `Password:` line.
    func setLoginVerifier(_ verifier: LoginVerifier) async throws

    /// The node's last accepted keyslots for this user, newest first (at most 8), to undo a destructive keyslot write.
    func keyslotHistory() async throws -> [[UInt8]]

    /// The node's STATUS: name, version, uptime, space, this user's counts and bytes, its last scrub.
    func status() async throws -> WireNodeStatus

    /// Closes the connection.
    func close() async
}

/// One object upload in progress.
public protocol ObjectUpload: Sendable {
    /// Sends the next bytes; suspends while the connection is not writable.
    func write(_ chunk: ByteBuffer) async throws
    /// Waits until the node has the object durably (or throws its refusal).
    func finish() async throws
    /// Abandons the upload; the node stores nothing.
    func cancel() async
}

/// One object download in progress.
public protocol ObjectDownload: Sendable {
    /// The whole stored object's length.
    var objectLength: UInt64 { get }
    /// Bytes this download will deliver.
    var length: UInt64 { get }
    /// The next bytes, or nil after the last.
    func next() async throws -> ByteBuffer?
    /// Abandons the download.
    func cancel() async
    /// Gives back a chunk whose bytes are consumed, for the connection to receive later bytes into (optional).
    func recycle(_ chunk: ByteBuffer)
    /// The next bytes if they are already here (`.some(nil)` after the last), nil when `next()` would wait (optional:
    /// lets a reader skip its stall timer for buffered bytes).
    func nextIfReady() throws -> ByteBuffer??
}

extension ObjectDownload {
    public func recycle(_ chunk: ByteBuffer) {}
    public func nextIfReady() throws -> ByteBuffer?? { nil }
}

extension NodeLink {
    public var provenVerifier: LoginVerifier? { nil }

    /// Links that cannot ask for STATUS refuse it.
    public func status() async throws -> WireNodeStatus {
        throw NodeLinkError.refused(.unsupported, "this link cannot ask for the node's status")
    }

    /// Nodes that predate SET_VERIFIER refuse it.
    public func setLoginVerifier(_ verifier: LoginVerifier) async throws {
        throw NodeLinkError.refused(.unsupported, "this node cannot change a login verifier")
    }

    /// Writes a legacy MD5 verifier (16 bytes).
    public func setLoginVerifier(digest: [UInt8]) async throws {
        try await setLoginVerifier(.md5(digest))
    }

    /// One `putManifest` per item, all at once (links without PUT_MANIFESTS).
    public func putManifests(_ items: [WireManifestWrite]) async throws -> [(any Error)?] {
        await putManifestsOneByOne(items)
    }

    /// One `putManifest` per item, all at once: the outcome of each, in order.
    public func putManifestsOneByOne(_ items: [WireManifestWrite]) async -> [(any Error)?] {
        await withTaskGroup(of: (Int, (any Error)?).self) { group in
            for (index, item) in items.enumerated() {
                group.addTask {
                    do {
                        try await self.putManifest(item.id, bytes: item.bytes)
                        return (index, nil)
                    } catch {
                        return (index, error)
                    }
                }
            }
            var outcomes = [(any Error)?](repeating: nil, count: items.count)
            for await (index, outcome) in group { outcomes[index] = outcome }
            return outcomes
        }
    }

    /// Nodes that predate GET_KEYSLOT_HISTORY refuse it.
    public func keyslotHistory() async throws -> [[UInt8]] {
        throw NodeLinkError.refused(.unsupported, "this node keeps no keyslot history")
    }
}
