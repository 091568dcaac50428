import Foundation
import NIOSSL

/// The client side of TLS to nodes: TLS 1.3 only, trusting exactly the cluster CA, verifying each node's
/// certificate chain and its host name or IP address. Build one per process and share it; it is costly to make.
public struct NodeTLSTrust: Sendable {
    let context: NIOSSLContext

    /// Trusts the CA certificate(s) in the PEM file at `caFile`.
    public init(caFile: String) throws(NodeConnectionError) {
        let certificates: [NIOSSLCertificate]
        guard FileManager.default.isReadableFile(atPath: caFile) else {
            let why = FileManager.default.fileExists(atPath: caFile) ? "cannot read it" : "no such file"
            throw .trust("\(Self.absolute(caFile)): \(why)")
        }
        do {
            certificates = try NIOSSLCertificate.fromPEMFile(caFile)
        } catch {
            throw .trust("\(Self.absolute(caFile)) is not a PEM certificate")
        }
        try self.init(certificates: certificates, source: caFile)
    }

    /// `path` made absolute against the current folder, for messages.
    private static func absolute(_ path: String) -> String {
        path.hasPrefix("/") ? path : FileManager.default.currentDirectoryPath + "/" + path
    }

    /// Trusts the CA certificate(s) in PEM bytes.
    public init(caPEM: [UInt8]) throws(NodeConnectionError) {
        let certificates: [NIOSSLCertificate]
        do {
            certificates = try NIOSSLCertificate.fromPEMBytes(caPEM)
        } catch {
            throw .trust("not a PEM certificate: \(error)")
        }
        try self.init(certificates: certificates, source: "PEM bytes")
    }

    private init(certificates: [NIOSSLCertificate], source: String) throws(NodeConnectionError) {
        guard !certificates.isEmpty else { throw .trust("\(source) holds no certificate") }
        var tls = TLSConfiguration.makeClientConfiguration()
        tls.minimumTLSVersion = .tlsv13
        tls.maximumTLSVersion = .tlsv13
        tls.trustRoots = .certificates(certificates)
        tls.certificateVerification = .fullVerification
        do {
            context = try NIOSSLContext(configuration: tls)
        } catch {
            throw .trust("TLS context: \(error)")
        }
    }
}
