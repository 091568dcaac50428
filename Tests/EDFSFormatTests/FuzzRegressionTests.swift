import EDFSCrypto
import EDFSFormat
import Foundation
import Testing

/// Every input kept in FuzzRegressions/<target>/ (FuzzRegressions/README.md) decoded as its fuzz harness decodes
/// it (Fuzz/Sources/<target>/): each must end in a typed error or a clean decode, never a trap.
@Suite("Fuzz regressions")
struct FuzzRegressionTests {
    static let targets = ["FuzzWire", "FuzzConfig", "FuzzManifest", "FuzzKeyslot", "FuzzStripe", "FuzzSCRAM"]

    /// (target, file name) of every kept input.
    static var inputs: [(String, String)] {
        guard let root = Bundle.module.url(forResource: "FuzzRegressions", withExtension: nil) else { return [] }
        return targets.flatMap { target in
            let folder = root.appendingPathComponent(target)
            let names = (try? FileManager.default.contentsOfDirectory(atPath: folder.path)) ?? []
            return names.sorted().map { (target, $0) }
        }
    }

    static func bytes(_ target: String, _ name: String) throws -> [UInt8] {
        let url = try #require(Bundle.module.url(forResource: "FuzzRegressions", withExtension: nil))
        return Array(try Data(contentsOf: url.appendingPathComponent(target).appendingPathComponent(name)))
    }

    @Test("the regression folder is bundled")
    func bundled() {
        #expect(Bundle.module.url(forResource: "FuzzRegressions", withExtension: nil) != nil)
    }

    @Test("a kept fuzz input is refused with a typed error, not a crash", arguments: FuzzRegressionTests.inputs.map { "\($0.0)/\($0.1)" })
    func replay(path: String) throws {
        let parts = path.split(separator: "/").map(String.init)
        let input = try Self.bytes(parts[0], parts[1])
        switch parts[0] {
        case "FuzzWire":
            guard input.count > 10 else { return }
            let frame = Array(input.dropFirst())
            do {
                if let header = try frame.withUnsafeBytes({ (raw: UnsafeRawBufferPointer) throws(WireError) -> WireFrameHeader? in
                    try WireFrameHeader.decode(raw, maxLengthField: WireProtocol.defaultMaxFrameLength)
                }) {
                    let payload = Array(frame.dropFirst(10).prefix(header.payloadLength))
                    _ = try? WireRequest.decode(type: header.type, payload: payload)
                    _ = try? WireReply.decode(type: header.type, payload: payload)
                }
            } catch let error as WireError {
                #expect(!error.message.isEmpty)
            } catch {
                Issue.record("WireFrameHeader.decode threw an untyped error: \(error)")
            }
        case "FuzzConfig":
            #expect(throws: ConfigError.self) {
                try ClusterConfig(parsing: String(decoding: input, as: UTF8.self), path: "/fuzz/etc/dfs.conf")
            }
        case "FuzzManifest":
            let key = try SymmetricKey(copying: (0x20...0x3f).map { UInt8($0) })
            #expect(throws: FormatError.self) { try Manifest.open(Array(input.dropFirst()), masterKey: key) }
        case "FuzzKeyslot":
            #expect(throws: (any Error).self) {
                let slot = try Keyslot.decode(input)
                _ = try slot.unlock(user: "alice", kek: SymmetricKey(copying: [UInt8](repeating: 0, count: 32)))
            }
        case "FuzzStripe":
            #expect(throws: (any Error).self) {
                let header = try StripeHeader.decode(prefixOf: input)
                let opener = try StripeOpener(expected: header, dataKey: SymmetricKey(copying: (0x00...0x1f).map { UInt8($0) }),
                                              workers: 1)
                let sealed = Array(input.dropFirst(StripeHeader.byteCount))
                var plain = [UInt8](repeating: 0, count: opener.plaintextLength(ofSealedBatch: sealed.count) ?? 0)
                try sealed.withUnsafeBytes { s in try plain.withUnsafeMutableBytes { try opener.open(s, into: $0) } }
                try opener.finish()
            }
        case "FuzzSCRAM":
            let message = Array(input.dropFirst())
            #expect(throws: SCRAMError.self) {
                switch (input.first ?? 0) % 5 {
                case 0: _ = try SCRAMClientFirst.parse(message)
                case 1: _ = try SCRAMServerFirst.parse(message, clientNonce: "fyko+d2lbbFgONRv9qkxdawL")
                case 2: _ = try SCRAMClientFinal.parse(message)
                case 3: _ = try SCRAMServerFinal.parse(message)
                default: _ = try SCRAMVerifier.parse(String(decoding: message, as: UTF8.self))
                }
            }
        default:
            Issue.record("unknown fuzz target folder \(parts[0])")
        }
    }
}
