import EDFSCrypto
import EDFSFormat

/// The commits of the files of one command, gathered (group commit on the client): the files of a put that reach
/// their commit at about the same time make their pre-commit re-reads together, as one GET_MANIFESTS per node, and
/// store their manifests together, as one PUT_MANIFESTS per node, instead of a request per file and node.
///
/// Nothing waits for a batch to fill: the first file to arrive is sent at once, and the files that arrive while a
/// request is out go together in the next one. Each file gets exactly what its own `ManifestReader.lookUp(path:)` and
/// `ManifestCommit.store(id:bytes:replacingForged:)` would have given it, so `PutOperation` keeps every rule of a
/// single commit (the race with another writer, the quorum and its roll-back, the removal of older versions).
public final class CommitBatch: Sendable {
    let session: ClusterSession
    private let lookups: Coalescer<String, ManifestLookup>
    private let stores: Coalescer<ManifestCommit.Write, (accepted: [Int], stale: [Int])>

    /// Most files per gathered request (a PUT_MANIFESTS carries at most `WireProtocol.maxManifestPutBatch`).
    static let maximumFiles = 64

    public init(_ session: ClusterSession) {
        self.session = session
        lookups = Coalescer(maximum: Self.maximumFiles) { paths in await ManifestReader(session).lookUp(paths: paths) }
        stores = Coalescer(maximum: Self.maximumFiles) { writes in await ManifestCommit(session: session).store(writes) }
    }

    /// `ManifestReader.lookUp(path:)`, made together with the other files' lookups waiting at the same time.
    func lookUp(path: String) async -> ManifestLookup {
        await lookups.submit(path)
    }

    /// `ManifestCommit.store(id:bytes:replacingForged:)`, made together with the other files' stores waiting at the
    /// same time.
    func store(id: ManifestID, bytes: [UInt8],
               replacingForged forged: [(node: Int, id: ManifestID, storedVersion: UInt64)]) async
        -> (accepted: [Int], stale: [Int]) {
        await stores.submit(ManifestCommit.Write(id: id, bytes: bytes, forged: forged))
    }
}

/// Runs `body` over what callers submit, several inputs per run: while a run is out, new inputs wait and go together
/// in the next one (at most `maximum` per run); each caller gets its own input's output.
final class Coalescer<Input: Sendable, Output: Sendable>: Sendable {
    private struct Waiting: Sendable {
        let input: Input
        let continuation: CheckedContinuation<Output, Never>
    }

    private struct State: Sendable {
        var waiting: [Waiting] = []
        var running = false
    }

    private let state = PthreadMutex(State())
    private let maximum: Int
    /// Must return one output per input, in order.
    private let body: @Sendable ([Input]) async -> [Output]

    init(maximum: Int, _ body: @escaping @Sendable ([Input]) async -> [Output]) {
        self.maximum = max(1, maximum)
        self.body = body
    }

    /// The output for `input`, from the next run that takes it.
    func submit(_ input: Input) async -> Output {
        await withCheckedContinuation { continuation in
            let start = state.withLock { s -> Bool in
                s.waiting.append(Waiting(input: input, continuation: continuation))
                guard !s.running else { return false }
                s.running = true
                return true
            }
            if start { Task { await self.drain() } }
        }
    }

    /// Runs batches until nobody waits.
    private func drain() async {
        while true {
            let batch = state.withLock { s -> [Waiting] in
                let taken = Array(s.waiting.prefix(maximum))
                s.waiting.removeFirst(taken.count)
                if taken.isEmpty { s.running = false }
                return taken
            }
            guard !batch.isEmpty else { return }
            let outputs = await body(batch.map(\.input))
            precondition(outputs.count == batch.count, "a coalesced run must answer every input")
            for (waiting, output) in zip(batch, outputs) { waiting.continuation.resume(returning: output) }
        }
    }
}
