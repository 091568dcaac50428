/// Why a SCRAM message (RFC 5802 §7) or a stored SCRAM verifier was refused. Messages name the field, never
/// its secret content.
public enum SCRAMError: Error, Equatable, Sendable, CustomStringConvertible {
    /// The message does not follow the grammar; the string says where.
    case malformed(String)
    /// A well-formed request edfs does not support (authzid, mandatory extensions, a channel-binding type).
    case unsupported(String)

    public var description: String {
        switch self {
        case let .malformed(why): return "malformed SCRAM message: \(why)"
        case let .unsupported(what): return "unsupported SCRAM feature: \(what)"
        }
    }

    /// The reason alone, without the "malformed SCRAM message" prefix.
    public var reason: String {
        switch self {
        case let .malformed(why): return why
        case let .unsupported(what): return "\(what) is not supported"
        }
    }
}

/// The gs2 channel-binding flag of a client-first-message (RFC 5802 §7, `gs2-cbind-flag`).
public enum SCRAMChannelBinding: Equatable, Sendable {
    /// `n`: the client does not support channel binding.
    case none
    /// `y`: the client supports it but thinks the server does not.
    case clientSupportsButNotUsed
    /// `p=tls-server-end-point` (RFC 5929 §4): bound to the hash of the server certificate.
    case tlsServerEndPoint

    /// The gs2 header this flag makes (no authzid): `n,,`, `y,,` or `p=tls-server-end-point,,`.
    public var gs2Header: String {
        switch self {
        case .none: return "n,,"
        case .clientSupportsButNotUsed: return "y,,"
        case .tlsServerEndPoint: return "p=tls-server-end-point,,"
        }
    }

    /// The `c=` payload before base64: the gs2 header, followed by the binding data for `p=`.
    public func bindingInput(data: [UInt8]) -> [UInt8] {
        Array(gs2Header.utf8) + (self == .tlsServerEndPoint ? data : [])
    }
}

/// The bounds and syntax rules shared by the four SCRAM messages. Every parser is a pure function over bytes.
public enum SCRAMMessages {
    /// Longest message accepted, in bytes.
    public static let maxMessageLength = 1024
    /// Client and server nonce parts: printable ASCII except `,`, this many bytes.
    public static let nonceLengths = 8...128
    /// Salt bytes accepted in a server-first-message or a stored verifier.
    public static let saltLengths = 8...64
    /// Longest user name (edfs user names are at most 64 bytes).
    public static let maxUserNameLength = 64
    /// Longest `e=` server error value.
    public static let maxServerErrorLength = 128

    /// Splits `bytes` into `name=value` attributes at commas, checking the overall bounds.
    static func attributes(_ bytes: [UInt8], message: String) throws(SCRAMError) -> [(name: UInt8, value: [UInt8])] {
        guard !bytes.isEmpty else { throw .malformed("\(message) is empty") }
        guard bytes.count <= maxMessageLength else {
            throw .malformed("\(message) is longer than \(maxMessageLength) bytes")
        }
        guard bytes.allSatisfy({ $0 >= 0x20 && $0 <= 0x7E }) else {
            throw .malformed("\(message) holds a byte outside printable ASCII")
        }
        var result: [(name: UInt8, value: [UInt8])] = []
        for part in bytes.split(separator: UInt8(ascii: ","), omittingEmptySubsequences: false) {
            guard part.count >= 2, part[part.startIndex + 1] == UInt8(ascii: "="),
                  isLetter(part[part.startIndex]) else {
                throw .malformed("\(message) has an attribute that is not name=value")
            }
            let name = part[part.startIndex]
            if name == UInt8(ascii: "m") { throw .unsupported("mandatory extension (m=) in \(message)") }
            result.append((name, Array(part.dropFirst(2))))
        }
        return result
    }

    /// Takes the attributes in exactly the order `names`, refusing missing, extra, repeated or unknown ones.
    static func expect(_ names: [Character], in attributes: [(name: UInt8, value: [UInt8])],
                       message: String) throws(SCRAMError) -> [[UInt8]] {
        guard attributes.count == names.count else {
            throw .malformed("\(message) has \(attributes.count) attributes, expected \(names.count) ("
                + names.map(String.init).joined(separator: ", ") + ")")
        }
        var values: [[UInt8]] = []
        for (attribute, name) in zip(attributes, names) {
            guard let ascii = name.asciiValue, attribute.name == ascii else {
                throw .malformed("\(message): expected attribute \(name)= but found "
                    + String(decoding: [attribute.name], as: UTF8.self) + "=")
            }
            values.append(attribute.value)
        }
        return values
    }

    static func isLetter(_ c: UInt8) -> Bool {
        (c >= UInt8(ascii: "a") && c <= UInt8(ascii: "z")) || (c >= UInt8(ascii: "A") && c <= UInt8(ascii: "Z"))
    }

    /// A nonce: printable ASCII except `,` (the grammar's `printable`), within `lengths`.
    static func nonce(_ value: [UInt8], lengths: ClosedRange<Int>, what: String) throws(SCRAMError) -> String {
        guard lengths.contains(value.count) else {
            throw .malformed("\(what) must be \(lengths.lowerBound) to \(lengths.upperBound) bytes")
        }
        guard value.allSatisfy({ $0 >= 0x21 && $0 <= 0x7E && $0 != UInt8(ascii: ",") }) else {
            throw .malformed("\(what) holds a character outside printable ASCII")
        }
        return String(decoding: value, as: UTF8.self)
    }

    /// Canonical base64 of exactly `count` bytes (or any count in `counts`).
    static func base64(_ value: [UInt8], counts: ClosedRange<Int>, what: String) throws(SCRAMError) -> [UInt8] {
        guard let bytes = Base64.decode(value) else { throw .malformed("\(what) is not valid base64") }
        guard counts.contains(bytes.count) else {
            throw .malformed(counts.count == 1 ? "\(what) must be \(counts.lowerBound) bytes"
                : "\(what) must be \(counts.lowerBound) to \(counts.upperBound) bytes")
        }
        return bytes
    }

    /// A decimal count without sign or leading zero, 1 … 2³²−1.
    static func iterationCount(_ value: [UInt8]) throws(SCRAMError) -> UInt32 {
        guard let first = value.first, first != UInt8(ascii: "0"), value.count <= 10,
              value.allSatisfy({ $0 >= UInt8(ascii: "0") && $0 <= UInt8(ascii: "9") }),
              let number = UInt32(String(decoding: value, as: UTF8.self)) else {
            throw .malformed("iteration count must be a whole number 1 to \(UInt32.max)")
        }
        return number
    }
}

/// `client-first-message = gs2-header client-first-message-bare` (RFC 5802 §7). edfs takes no authzid, no
/// extensions, and user names of printable ASCII without `,` or `=` (so SASLprep and `=2C` escapes never apply).
public struct SCRAMClientFirst: Equatable, Sendable {
    public var channelBinding: SCRAMChannelBinding
    public var user: String
    public var clientNonce: String

    public init(channelBinding: SCRAMChannelBinding, user: String, clientNonce: String) {
        self.channelBinding = channelBinding
        self.user = user
        self.clientNonce = clientNonce
    }

    /// `n=user,r=nonce`: the part that enters the AuthMessage.
    public var bare: String { "n=\(user),r=\(clientNonce)" }
    /// The whole message.
    public var message: String { channelBinding.gs2Header + bare }

    /// Parses and checks a client-first-message.
    public static func parse(_ bytes: [UInt8]) throws(SCRAMError) -> SCRAMClientFirst {
        guard bytes.count <= SCRAMMessages.maxMessageLength else {
            throw .malformed("client-first-message is longer than \(SCRAMMessages.maxMessageLength) bytes")
        }
        let parts = bytes.split(separator: UInt8(ascii: ","), maxSplits: 2, omittingEmptySubsequences: false)
        guard parts.count == 3 else { throw .malformed("client-first-message has no gs2 header") }
        let flag = Array(parts[0])
        let binding: SCRAMChannelBinding
        switch flag {
        case Array("n".utf8): binding = .none
        case Array("y".utf8): binding = .clientSupportsButNotUsed
        case Array("p=tls-server-end-point".utf8): binding = .tlsServerEndPoint
        default:
            if flag.starts(with: Array("p=".utf8)) { throw .unsupported("channel-binding type other than tls-server-end-point") }
            throw .malformed("gs2 channel-binding flag must be n, y or p=…")
        }
        guard parts[1].isEmpty else { throw .unsupported("authorization identity (a=)") }
        let attributes = try SCRAMMessages.attributes(Array(parts[2]), message: "client-first-message")
        let values = try SCRAMMessages.expect(["n", "r"], in: attributes, message: "client-first-message")
        let name = values[0]
        guard (1...SCRAMMessages.maxUserNameLength).contains(name.count) else {
            throw .malformed("user name must be 1 to \(SCRAMMessages.maxUserNameLength) bytes")
        }
        guard name.allSatisfy({ $0 > 0x20 && $0 <= 0x7E && $0 != UInt8(ascii: ",") && $0 != UInt8(ascii: "=") }) else {
            throw .malformed("user name holds a character edfs does not allow")
        }
        let nonce = try SCRAMMessages.nonce(values[1], lengths: SCRAMMessages.nonceLengths, what: "client nonce")
        return SCRAMClientFirst(channelBinding: binding, user: String(decoding: name, as: UTF8.self), clientNonce: nonce)
    }
}

/// `server-first-message = nonce "," salt "," iteration-count` (RFC 5802 §7); no extensions.
public struct SCRAMServerFirst: Equatable, Sendable {
    /// The client nonce followed by the server's part.
    public var nonce: String
    public var salt: [UInt8]
    public var iterations: UInt32

    public init(nonce: String, salt: [UInt8], iterations: UInt32) {
        self.nonce = nonce
        self.salt = salt
        self.iterations = iterations
    }

    public var message: String { "r=\(nonce),s=\(Base64.encode(salt)),i=\(iterations)" }

    /// Parses and checks a server-first-message; the nonce must extend `clientNonce` by a server part.
    public static func parse(_ bytes: [UInt8], clientNonce: String) throws(SCRAMError) -> SCRAMServerFirst {
        let attributes = try SCRAMMessages.attributes(bytes, message: "server-first-message")
        let values = try SCRAMMessages.expect(["r", "s", "i"], in: attributes, message: "server-first-message")
        let lengths = SCRAMMessages.nonceLengths
        let nonce = try SCRAMMessages.nonce(values[0], lengths: (lengths.lowerBound * 2)...(lengths.upperBound * 2),
                                            what: "nonce")
        let client = Array(clientNonce.utf8)
        guard values[0].count >= client.count + lengths.lowerBound, values[0].starts(with: client) else {
            throw .malformed("nonce does not extend the client nonce by a server part of \(lengths.lowerBound) or more bytes")
        }
        let salt = try SCRAMMessages.base64(values[1], counts: SCRAMMessages.saltLengths, what: "salt")
        return SCRAMServerFirst(nonce: nonce, salt: salt, iterations: try SCRAMMessages.iterationCount(values[2]))
    }
}

/// `client-final-message = channel-binding "," nonce "," proof` (RFC 5802 §7); no extensions.
public struct SCRAMClientFinal: Equatable, Sendable {
    /// The decoded `c=` attribute: the gs2 header followed by the channel-binding data, if any.
    public var channelBinding: [UInt8]
    public var nonce: String
    /// The 32-byte ClientProof.
    public var proof: [UInt8]

    public init(channelBinding: [UInt8], nonce: String, proof: [UInt8]) {
        self.channelBinding = channelBinding
        self.nonce = nonce
        self.proof = proof
    }

    /// `c=…,r=…`: the part that enters the AuthMessage.
    public var withoutProof: String { "c=\(Base64.encode(channelBinding)),r=\(nonce)" }
    public var message: String { withoutProof + ",p=\(Base64.encode(proof))" }

    /// Longest `c=` payload before base64: a gs2 header and at most a 64-byte certificate hash.
    public static let maxChannelBindingLength = 128

    /// Parses and checks a client-final-message.
    public static func parse(_ bytes: [UInt8]) throws(SCRAMError) -> SCRAMClientFinal {
        let attributes = try SCRAMMessages.attributes(bytes, message: "client-final-message")
        let values = try SCRAMMessages.expect(["c", "r", "p"], in: attributes, message: "client-final-message")
        let binding = try SCRAMMessages.base64(values[0], counts: 3...maxChannelBindingLength, what: "channel binding")
        let lengths = SCRAMMessages.nonceLengths
        let nonce = try SCRAMMessages.nonce(values[1], lengths: (lengths.lowerBound * 2)...(lengths.upperBound * 2),
                                            what: "nonce")
        let proof = try SCRAMMessages.base64(values[2], counts: 32...32, what: "client proof")
        return SCRAMClientFinal(channelBinding: binding, nonce: nonce, proof: proof)
    }
}

/// `server-final-message = server-error / verifier` (RFC 5802 §7); no extensions.
public enum SCRAMServerFinal: Equatable, Sendable {
    /// `v=`: the 32-byte ServerSignature.
    case verifier([UInt8])
    /// `e=`: the server's error value.
    case error(String)

    public var message: String {
        switch self {
        case let .verifier(signature): return "v=" + Base64.encode(signature)
        case let .error(value): return "e=" + value
        }
    }

    /// Parses and checks a server-final-message.
    public static func parse(_ bytes: [UInt8]) throws(SCRAMError) -> SCRAMServerFinal {
        let attributes = try SCRAMMessages.attributes(bytes, message: "server-final-message")
        guard attributes.count == 1, let first = attributes.first else {
            throw .malformed("server-final-message must hold exactly one attribute, v= or e=")
        }
        switch first.name {
        case UInt8(ascii: "v"):
            return .verifier(try SCRAMMessages.base64(first.value, counts: 32...32, what: "server signature"))
        case UInt8(ascii: "e"):
            guard (1...SCRAMMessages.maxServerErrorLength).contains(first.value.count),
                  first.value.allSatisfy({ $0 != UInt8(ascii: "=") }) else {
                throw .malformed("server error must be 1 to \(SCRAMMessages.maxServerErrorLength) bytes without =")
            }
            return .error(String(decoding: first.value, as: UTF8.self))
        default:
            throw .malformed("server-final-message must be v= or e=")
        }
    }
}

/// The AuthMessage both sides sign: `client-first-message-bare "," server-first-message "," client-final-message-without-proof`.
public func scramAuthMessage(clientFirst: SCRAMClientFirst, serverFirst: SCRAMServerFirst,
                             clientFinalWithoutProof: String) -> [UInt8] {
    Array((clientFirst.bare + "," + serverFirst.message + "," + clientFinalWithoutProof).utf8)
}
