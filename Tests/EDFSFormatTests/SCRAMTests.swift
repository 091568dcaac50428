import EDFSCrypto
import EDFSFormat
import Testing

@Suite("SCRAM-SHA-256")
struct SCRAMTests {
    // RFC 7677 §3: user "user", password "pencil".
    static let clientFirst = "n,,n=user,r=rOprNGfwEbeRWgbNEkqO"
    static let serverFirst = "r=rOprNGfwEbeRWgbNEkqO%hvYDpWUa2RaTCAfuxFIlj)hNlF$k0,s=W22ZaJ0SNY7soEsUEjb6gQ==,i=4096"
    static let clientFinal = "c=biws,r=rOprNGfwEbeRWgbNEkqO%hvYDpWUa2RaTCAfuxFIlj)hNlF$k0,"
        + "p=dHzbZapWIk4jUhN+Ute9ytag9zjfMHgsqmmiz7AndVQ="
    static let serverFinal = "v=6rriTRBi23WpRR/wtup+mMhUZUn/dB5nLTJRsjl95G4="

    @Test("RFC 7677 example exchange: client-final and server-final byte for byte, and the server accepts the proof")
    func rfc7677Exchange() throws {
        let first = try SCRAMClientFirst.parse(Array(Self.clientFirst.utf8))
        #expect(first.user == "user" && first.channelBinding == .none && first.message == Self.clientFirst)
        let challenge = try SCRAMServerFirst.parse(Array(Self.serverFirst.utf8), clientNonce: first.clientNonce)
        #expect(challenge.iterations == 4096 && challenge.message == Self.serverFirst)

        let salted = try SCRAM.saltedPassword(password: SecureBytes(copying: Array("pencil".utf8)),
                                              salt: challenge.salt, iterations: challenge.iterations)
        let binding = first.channelBinding.bindingInput(data: [])
        var final = SCRAMClientFinal(channelBinding: binding, nonce: challenge.nonce, proof: [])
        let authMessage = scramAuthMessage(clientFirst: first, serverFirst: challenge,
                                           clientFinalWithoutProof: final.withoutProof)
        final.proof = try SCRAM.clientProof(saltedPassword: salted, authMessage: authMessage)
        #expect(final.message == Self.clientFinal)

        // The server side, from the stored verifier only.
        let verifier = try SCRAMVerifier(saltedPassword: salted, salt: challenge.salt, iterations: 4096)
        let parsedFinal = try SCRAMClientFinal.parse(Array(Self.clientFinal.utf8))
        #expect(parsedFinal == final)
        #expect(SCRAM.verifyProof(parsedFinal.proof, storedKey: try SymmetricKey(copying: verifier.storedKey),
                                  authMessage: authMessage))
        var wrong = parsedFinal.proof
        wrong[0] ^= 1
        #expect(!SCRAM.verifyProof(wrong, storedKey: try SymmetricKey(copying: verifier.storedKey), authMessage: authMessage))
        #expect(!SCRAM.verifyProof(Array(wrong.prefix(31)), storedKey: try SymmetricKey(copying: verifier.storedKey),
                                   authMessage: authMessage))
        let signature = SCRAM.serverSignature(serverKey: try SymmetricKey(copying: verifier.serverKey), authMessage: authMessage)
        #expect(SCRAMServerFinal.verifier(signature).message == Self.serverFinal)
        #expect(try SCRAMServerFinal.parse(Array(Self.serverFinal.utf8)) == .verifier(signature))

        // The stored form round-trips.
        #expect(try SCRAMVerifier.parse(verifier.encoded) == verifier)
        #expect(verifier.encoded.hasPrefix("SCRAM-SHA-256$4096:W22ZaJ0SNY7soEsUEjb6gQ==$"))
    }

    @Test("channel binding: the c= payload is the gs2 header followed by the certificate hash")
    func bindingInput() {
        let hash = [UInt8](repeating: 0xAB, count: 32)
        #expect(SCRAMChannelBinding.tlsServerEndPoint.bindingInput(data: hash)
            == Array("p=tls-server-end-point,,".utf8) + hash)
        #expect(SCRAMChannelBinding.none.bindingInput(data: hash) == Array("n,,".utf8))
        #expect(Base64.encode(SCRAMChannelBinding.none.bindingInput(data: [])) == "biws")
    }

    static let nonce = "rOprNGfwEbeRWgbNEkqO"
    static let fullNonce = "rOprNGfwEbeRWgbNEkqO%hvYDpWUa2RaTCAfuxFIlj)hNlF$k0"
    static let proof = "dHzbZapWIk4jUhN+Ute9ytag9zjfMHgsqmmiz7AndVQ="

    @Test("malformed client-first-messages are refused", arguments: [
        "", "n", "n,", "x,,n=user,r=rOprNGfwEbeRWgbNEkqO", "p=tls-unique,,n=user,r=rOprNGfwEbeRWgbNEkqO",
        "n,a=admin,n=user,r=rOprNGfwEbeRWgbNEkqO", "n,,m=ext,n=user,r=rOprNGfwEbeRWgbNEkqO",
        "n,,r=rOprNGfwEbeRWgbNEkqO,n=user", "n,,n=user", "n,,n=user,r=rOprNGfwEbeRWgbNEkqO,r=again123",
        "n,,n=user,r=rOprNGfwEbeRWgbNEkqO,x=unknown", "n,,n=,r=rOprNGfwEbeRWgbNEkqO", "n,,n=us=2Cer,r=rOprNGfwEbeRWgbNEkqO",
        "n,,n=user,r=short", "n,,n=user,r=" + String(repeating: "a", count: 129), "n,,n=user,r=rOprNGfw\u{7F}bNEkqO",
        "n,,n=user,r=rOprNG fwEbeRWgbNEkqO", "n,,n=user,r=rOprNGfwEbeRWgbNEkqO,", "n,,n=" + String(repeating: "u", count: 65) + ",r=rOprNGfwEbeRWgbNEkqO",
        "n,,n=user,r=rOprNGfwEbeRWgbNEkqO" + String(repeating: ",x=y", count: 300), "n,,nuser,r=rOprNGfwEbeRWgbNEkqO",
        "n,,n=usér,r=rOprNGfwEbeRWgbNEkqO",
    ])
    func malformedClientFirst(_ text: String) {
        #expect(throws: SCRAMError.self) { try SCRAMClientFirst.parse(Array(text.utf8)) }
    }

    @Test("malformed server-first-messages are refused", arguments: [
        "", "r=\(fullNonce),s=W22ZaJ0SNY7soEsUEjb6gQ==", "r=\(fullNonce),s=W22ZaJ0SNY7soEsUEjb6gQ==,i=4096,x=1",
        "s=W22ZaJ0SNY7soEsUEjb6gQ==,r=\(fullNonce),i=4096", "r=\(nonce),s=W22ZaJ0SNY7soEsUEjb6gQ==,i=4096",
        "r=otherNonce%hvYDpWUa2RaTCAfuxFIlj,s=W22ZaJ0SNY7soEsUEjb6gQ==,i=4096",
        "r=\(fullNonce),s=W22ZaJ0SNY7soEsUEjb6gQ=,i=4096", "r=\(fullNonce),s=W22ZaJ0SNY7soEsUEjb6gR==,i=4096",
        "r=\(fullNonce),s=AAAA,i=4096", "r=\(fullNonce),s=W22ZaJ0SNY7soEsUEjb6gQ==,i=0",
        "r=\(fullNonce),s=W22ZaJ0SNY7soEsUEjb6gQ==,i=04096", "r=\(fullNonce),s=W22ZaJ0SNY7soEsUEjb6gQ==,i=-1",
        "r=\(fullNonce),s=W22ZaJ0SNY7soEsUEjb6gQ==,i=4294967296", "r=\(fullNonce),s=W22ZaJ0SNY7soEsUEjb6gQ==,i=",
        "m=x,r=\(fullNonce),s=W22ZaJ0SNY7soEsUEjb6gQ==,i=4096", "r=\(fullNonce),s=W22Za J0SNY7soEsUEjb6gQ==,i=4096",
    ])
    func malformedServerFirst(_ text: String) {
        #expect(throws: SCRAMError.self) { try SCRAMServerFirst.parse(Array(text.utf8), clientNonce: Self.nonce) }
    }

    @Test("malformed client-final-messages are refused", arguments: [
        "", "c=biws,r=\(fullNonce)", "r=\(fullNonce),c=biws,p=\(proof)", "c=biws,r=\(fullNonce),p=\(proof),x=1",
        "c=biw,r=\(fullNonce),p=\(proof)", "c=,r=\(fullNonce),p=\(proof)", "c=biws,r=\(fullNonce),p=AAAA",
        "c=biws,r=\(fullNonce),p=\(proof.dropLast())", "c=biws,r=\(fullNonce),p=\(proof),p=\(proof)",
        "c=biws,r=,p=\(proof)", "c=biws,c=biws,r=\(fullNonce),p=\(proof)",
        "c=" + String(repeating: "A", count: 200) + ",r=\(fullNonce),p=\(proof)",
    ])
    func malformedClientFinal(_ text: String) {
        #expect(throws: SCRAMError.self) { try SCRAMClientFinal.parse(Array(text.utf8)) }
    }

    @Test("malformed server-final-messages are refused", arguments: [
        "", "v=", "v=AAAA", "v=6rriTRBi23WpRR/wtup+mMhUZUn/dB5nLTJRsjl95G4", "x=1",
        "v=6rriTRBi23WpRR/wtup+mMhUZUn/dB5nLTJRsjl95G4=,v=6rriTRBi23WpRR/wtup+mMhUZUn/dB5nLTJRsjl95G4=",
        "e=", "e=" + String(repeating: "x", count: 129), "v=6rriTRBi23WpRR/wtup+mMhUZUn/dB5nLTJRsjl95G4=,e=x",
    ])
    func malformedServerFinal(_ text: String) {
        #expect(throws: SCRAMError.self) { try SCRAMServerFinal.parse(Array(text.utf8)) }
    }

    @Test("stored verifiers: malformed forms are refused", arguments: [
        "SCRAM-SHA-256$", "SCRAM-SHA-256$4096:W22ZaJ0SNY7soEsUEjb6gQ==", "SCRAM-SHA-256$4096:W22ZaJ0SNY7soEsUEjb6gQ==$AAAA:AAAA",
        "SCRAM-SHA-256$100:W22ZaJ0SNY7soEsUEjb6gQ==$\(proof):\(proof)", "SCRAM-SHA-256$4096:AAAA$\(proof):\(proof)",
        "SCRAM-SHA-256$4096:W22ZaJ0SNY7soEsUEjb6gQ==$\(proof)", "SCRAM-SHA-256$4096:W22ZaJ0SNY7soEsUEjb6gQ==$\(proof):\(proof):x",
        "SCRAM-SHA-1$4096:W22ZaJ0SNY7soEsUEjb6gQ==$\(proof):\(proof)", "SCRAM-SHA-256$x:W22ZaJ0SNY7soEsUEjb6gQ==$\(proof):\(proof)",
    ])
    func malformedVerifier(_ text: String) {
        #expect(throws: SCRAMError.self) { try SCRAMVerifier.parse(text) }
    }

    @Test("base64 is strict and round-trips")
    func base64() {
        for count in 0..<40 {
            let bytes = (0..<count).map { UInt8(truncatingIfNeeded: $0 * 37 + 11) }
            #expect(Base64.decode(Base64.encode(bytes)) == bytes)
        }
        #expect(Base64.encode(Array("pencil".utf8)) == "cGVuY2ls")
        for bad in ["A", "AA", "AAA", "AA=A", "A===", "=AAA", "AB==", "AAB=", "AA==AAAA", "AA-_", "AAA\n"] {
            #expect(Base64.decode(bad) == nil, "\(bad)")
        }
    }

    @Test("keyslot KDF kind 2: KEK = HMAC(SaltedPassword, label), reachable from the SCRAM SaltedPassword")
    func scramLinkedKEK() throws {
        let password = SecureBytes(copying: Array("pencil".utf8))
        let salt = [UInt8](repeating: 7, count: 16)
        let kdf = try KeyslotKDF(kind: .scramLinked, iterations: 4096, salt: salt)
        let salted = try SCRAM.saltedPassword(password: password, salt: salt, iterations: 4096)
        let fromPassword = try kdf.deriveKEK(password: password)
        let fromSalted = try kdf.deriveKEK(saltedPassword: salted)
        #expect(fromPassword.bytes.constantTimeEquals(fromSalted.bytes))
        #expect(!fromPassword.bytes.constantTimeEquals(salted.bytes))
        let expected = Digest.hmacSHA256(key: salted, Array("edfs keyslot KEK v1".utf8))
        #expect(fromPassword.withUnsafeBytes { Array($0) } == expected)
        // Kind 1's KEK is the SaltedPassword itself.
        let kind1 = try KeyslotKDF(iterations: 4096, salt: salt)
        #expect(try kind1.deriveKEK(saltedPassword: salted).bytes.constantTimeEquals(kind1.deriveKEK(password: password).bytes))
    }
}
