/// Which listing a LIST asks for.
public enum WireListKind: UInt8, Sendable {
    case objects = 1
    case manifests = 2
}
