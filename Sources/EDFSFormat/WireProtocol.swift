/// Constants of the edfs wire protocol (docs/PROTOCOL.md).
public enum WireProtocol {
    /// The protocol versions this build speaks, newest last.
    public static let supportedVersions: [UInt16] = [1]
    /// The magic that opens a HELLO payload.
    public static let magic: [UInt8] = Array("EDFS".utf8)
    /// Bytes of a frame header: u32 length, u8 type, u8 flags, u32 request id.
    public static let headerLength = 10
    /// Bytes of a header that the length field counts (type, flags, request id).
    public static let lengthCountedHeaderBytes = 6
    /// Largest DATA payload anyone sends (1 MiB writes measured best through NIOSSL).
    public static let maxDataPayload = 1 << 20
    /// Default largest frame length (the length field's value) a node accepts.
    public static let defaultMaxFrameLength = (1 << 20) + (64 << 10)
    /// Largest manifest or keyslot a node stores.
    public static let maxMetadataLength = 1 << 20
    /// Most entries one LIST page may ask for.
    public static let maxListLimit = 1000
    /// Most manifest ids one GET_MANIFESTS may name.
    public static let maxManifestBatch = 1000
    /// Most manifests one PUT_MANIFESTS carries (their bytes are bounded by the frame length).
    public static let maxManifestPutBatch = 256
    /// A GET length meaning "to the end of the object".
    public static let toEnd = UInt64.max
    /// Longest client name in a HELLO, and longest ERROR message a node sends.
    public static let maxClientNameLength = 64
    public static let maxErrorMessageLength = 512
}
