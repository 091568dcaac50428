/// The version of this edfs build, as nodes report it in STATUS and `edfs status` prints it.
public enum SoftwareVersion {
    /// Semantic version text (at most `WireNodeStatus.maxVersionBytes` bytes).
    public static let text = "0.1.0-dev"
}
