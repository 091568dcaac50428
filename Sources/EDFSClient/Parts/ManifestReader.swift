import EDFSCrypto
import EDFSFormat

/// What the nodes hold for one path.
public struct ManifestLookup: Sendable {
    /// The newest version that opened, if any (a tombstone is returned too: check `body.isDeleted`).
    public var newest: ManifestRecord?
    /// The highest version number among the authentic copies (a forged header cannot inflate it).
    public var highestVersion: UInt64
    /// Every authentic (id, node, version) seen, for cleanup of older copies.
    public var copies: [(id: ManifestID, node: Int, version: UInt64)]
    /// Nodes whose answer was not definitive (an error, or a copy that failed authentication).
    public var unsettledNodes: Set<Int>
    /// Nodes that did not answer at all (an error or the deadline); a subset of `unsettledNodes`.
    public var failedNodes: Set<Int> = []
    /// Copies that failed authentication, or that their node holds but cannot read (its checksum fails).
    public var forgedCopies: Int
    /// Copies at one of this session's key epochs, with a header naming this path's id, that fail authentication:
    /// no client holding the keys wrote them, so a commit may replace them (see ManifestCommit).
    public var forged: [(node: Int, id: ManifestID, storedVersion: UInt64)] = []
    /// Every distinct authentic version seen, the newest among them (a name has several while a key rotation is
    /// unfinished or a commit reached only some nodes).
    public var versions: [ManifestRecord] = []

    /// The version a new put or tombstone gets.
    public func nextVersion() throws -> UInt64 {
        let (next, overflow) = highestVersion.addingReportingOverflow(1)
        guard !overflow else { throw ClientError.integrity("the version counter of this file is exhausted") }
        return next
    }

    /// The live file, or nil if absent or removed.
    public var live: ManifestRecord? { newest.flatMap { $0.body.isDeleted ? nil : $0 } }
}

/// Finds a path's manifests on the nodes and opens them: the newest authentic version wins.
public struct ManifestReader: Sendable {
    public let session: ClusterSession

    public init(_ session: ClusterSession) { self.session = session }

    /// The manifest ids `path` has under each key bundle, newest epoch first.
    public func manifestIDs(path: String) -> [ManifestID] {
        session.bundles.map { ManifestID.derive(path: path, nameKey: $0.nameKey) }
    }

    /// Fetches `path`'s manifests from every reachable node and opens them; the newest authentic version wins.
    /// A manifest that fails authentication is reported and skipped, never trusted.
    public func lookUp(path: String) async throws -> ManifestLookup {
        var answers = [(id: ManifestID, results: [Int: Result<[UInt8]?, any Error>])]()
        for id in manifestIDs(path: path) {
            answers.append((id, await session.fanOut.run { _, link in try await link.getManifest(id.hex) }.results))
        }
        return assemble(path: path, answers)
    }

    /// The lookups of several paths, each the same as `lookUp(path:)` gives (the same copies opened, the same nodes
    /// unsettled, the same notices), from one GET_MANIFESTS per node (per `WireProtocol.maxManifestBatch` ids) instead
    /// of a round trip per path: `get -r` reads its files' manifests so.
    public func lookUp(paths: [String]) async -> [ManifestLookup] {
        let idsByPath = paths.map(manifestIDs(path:))
        let wanted = Array(Set(idsByPath.joined().map(\.hex))).sorted()
        let fetched = await session.fanOut.run { _, link in try await link.getManifests(wanted) }.results
        return zip(paths, idsByPath).map { path, ids in
            assemble(path: path, ids.map { id in
                (id, fetched.mapValues { result in
                    result.flatMap { answers -> Result<[UInt8]?, any Error> in
                        switch answers[id.hex] {
                        case .absent?: return .success(nil)
                        case let .manifest(bytes)?: return .success(bytes)
                        // What a single GET_MANIFEST of a copy the node cannot read answers.
                        case .unreadable?: return .failure(NodeLinkError.checksumMismatch)
                        case nil: return .failure(NodeLinkError.unreachable("no answer for this manifest"))
                        }
                    }
                })
            })
        }
    }

    /// Opens what the nodes answered for each of a path's manifest ids: the newest authentic version wins.
    private func assemble(path: String, _ answers: [(id: ManifestID, results: [Int: Result<[UInt8]?, any Error>])])
        -> ManifestLookup {
        var lookup = ManifestLookup(newest: nil, highestVersion: 0, copies: [], unsettledNodes: [], forgedCopies: 0)
        var holders: [String: [Int]] = [:]
        var opened: [String: ManifestRecord] = [:]
        for (id, fetched) in answers {
            for (node, result) in fetched.sorted(by: { $0.key < $1.key }) {
                let bytes: [UInt8]
                switch result {
                case .success(.none), .failure(NodeLinkError.notFound):
                    continue
                case let .success(.some(found)):
                    bytes = found
                case .failure(NodeLinkError.checksumMismatch):
                    // The node answered: it holds a copy it cannot read (damaged on its disk). Like a copy that fails
                    // authentication, it vouches for no version.
                    session.notices.add("node \(session.nodeName(node)) holds a manifest for \(displayed(path)) that "
                                        + "it cannot read (damaged on its disk); ignored")
                    lookup.unsettledNodes.insert(node)
                    lookup.forgedCopies += 1
                    continue
                case let .failure(error):
                    session.notices.add("node \(session.nodeName(node)): could not read a manifest: \(error)")
                    lookup.unsettledNodes.insert(node)
                    lookup.failedNodes.insert(node)
                    continue
                }
                let key = "\(id.hex)/\(Hex.encode(Digest.sha256(bytes)))"
                if opened[key] == nil {
                    let header = try? ManifestHeader.decode(prefixOf: bytes)
                    guard let header, header.manifestID == id, let bundle = session.bundle(epoch: header.keyEpoch),
                          let (h, body) = try? Manifest.open(bytes, masterKey: bundle.masterKey) else {
                        session.notices.add("node \(session.nodeName(node)) holds a manifest for \(displayed(path)) "
                                            + "that fails authentication; ignored")
                        lookup.unsettledNodes.insert(node)
                        lookup.forgedCopies += 1
                        // Replaceable by the next commit: a copy at one of this session's epochs that fails
                        // authentication, or any copy whose header names another manifest id (a node would never
                        // have accepted it under this id: it was put there behind the protocol's back).
                        if let header, header.manifestID != id || session.bundle(epoch: header.keyEpoch) != nil {
                            lookup.forged.append((node, id, header.version))
                        }
                        continue
                    }
                    opened[key] = ManifestRecord(id: id, header: h, body: body, bytes: bytes, holders: [])
                }
                if let record = opened[key] {
                    lookup.copies.append((id, node, record.header.version))
                    lookup.highestVersion = max(lookup.highestVersion, record.header.version)
                }
                holders[key, default: []].append(node)
            }
        }
        for (key, record) in opened {
            let candidate = ManifestRecord(id: record.id, header: record.header, body: record.body, bytes: record.bytes,
                                           holders: holders[key] ?? [])
            lookup.versions.append(candidate)
            if lookup.newest.map({ candidate.supersedes($0) }) ?? true { lookup.newest = candidate }
        }
        return lookup
    }

    /// The live version of `path`, or the error the CLI contract asks for: 66 when nothing is stored,
    /// 65 when copies exist but none is authentic.
    public func liveManifest(path: String) async throws -> (ManifestRecord, ManifestLookup) {
        let lookup = try await lookUp(path: path)
        return (try liveManifest(path: path, from: lookup), lookup)
    }

    /// `liveManifest(path:)` from a lookup already made (`lookUp(paths:)`).
    public func liveManifest(path: String, from lookup: ManifestLookup) throws -> ManifestRecord {
        try requireReadQuorum(lookup, path: path)
        if let live = lookup.live {
            warnOfOlderCopies(lookup, newest: live, path: path)
            return live
        }
        if lookup.newest == nil && lookup.forgedCopies > 0 {
            throw ClientError.integrity("every stored manifest of \"\(path)\" fails authentication or cannot be read")
        }
        throw ClientError.noSuchFile("no file named \"\(path)\" is stored (see edfs ls)")
    }

    /// Refuses (exit 69) unless the read quorum — N − R + 1 nodes — answered definitively for `path`: only then does
    /// the answer include a holder of every commit (a commit needs R nodes), so a removed file cannot come back and
    /// an older version cannot pass for the newest because the nodes that know better are down.
    /// When the nodes that fall short answered, but with copies that fail authentication, the refusal is an
    /// integrity error (exit 65) naming them, not "start the nodes".
    public func requireReadQuorum(_ lookup: ManifestLookup, path: String) throws {
        if let failing = nodesLeavingTooFewVouching(lookup) {
            throw ClientError.integrity(
                "the manifest copies of \"\(path)\" on \(failing.map(session.nodeName).joined(separator: ",")) fail "
                    + "authentication or cannot be read (damaged or forged), so too few nodes vouch for its newest "
                    + "version: run edfs check, then edfs repair")
        }
        let answered = session.reachableNodes.filter { !lookup.unsettledNodes.contains($0) }
        try Self.requireReadQuorum(answered: answered.count, session: session, what: "\"\(path)\"")
    }

    /// The nodes whose copies fail authentication or cannot be read, when it is because of them (not of nodes that
    /// did not answer) that fewer than the read quorum vouch for the newest version: a get then refuses the file
    /// (exit 65) until `edfs repair` gives those nodes good copies. Nil when the quorum is met or nodes are missing.
    public func nodesLeavingTooFewVouching(_ lookup: ManifestLookup) -> [Int]? {
        let answered = session.reachableNodes.filter { !lookup.unsettledNodes.contains($0) }
        let failing = session.reachableNodes.filter { lookup.unsettledNodes.contains($0) && !lookup.failedNodes.contains($0) }
        guard answered.count < session.config.readQuorum, !failing.isEmpty,
              answered.count + failing.count >= session.config.readQuorum else { return nil }
        return failing
    }

    /// Refuses (exit 69) when fewer than the read quorum of nodes answered.
    static func requireReadQuorum(answered: Int, session: ClusterSession, what: String) throws {
        let needed = session.config.readQuorum
        guard answered < needed else { return }
        throw ClientError.notEnoughNodes(
            "only \(answered) of \(session.nodeCount) nodes answered for \(what); a read needs \(needed) to be sure it "
                + "has the newest version (with R=\(session.config.replicas), at most \(session.config.replicas - 1) may be down)")
    }

    /// Reachable nodes that serve an older authentic version than others do: a node that was down during a put, or
    /// one rolling the file back. Said, never silently resolved (the newest authentic version is used).
    private func warnOfOlderCopies(_ lookup: ManifestLookup, newest: ManifestRecord, path: String) {
        let current = Set(newest.holders)
        let older = lookup.versions.filter { $0.header.version < newest.header.version }
            .flatMap { version in version.holders.filter { !current.contains($0) }.map { ($0, version.header.version) } }
        guard !older.isEmpty else { return }
        let described = Dictionary(older, uniquingKeysWith: max).sorted { $0.key < $1.key }
            .map { "\(session.nodeName($0.key)) has version \($0.value)" }.joined(separator: ", ")
        session.notices.add("\"\(path)\": reachable nodes disagree on the newest version (\(described); "
                            + "\(newest.holders.map(session.nodeName).joined(separator: ","))"
                            + " \(newest.holders.count == 1 ? "has" : "have") version "
                            + "\(newest.header.version), which is used): a node missed an update or serves an old one")
    }
}
