import Logging

/// The client's diagnostic log, shown by `edfs --verbose`: each node's connect, TLS and login steps, and the library
/// error behind every one-line message (which keeps only what a person can act on). Debug level only, so it is
/// silent unless a program raises its level; it never carries a password, key or digest (a stored name only inside an error that names it anyway).
public enum ClientLog {
    /// The logger every client layer writes to (label `edfs.client`).
    public static let logger = Logger(label: "edfs.client")
}
