import EDFSCrypto
#if canImport(Glibc)
import Glibc
#endif

/// Where a command takes a password from (docs/CLI.md): a file, standard input, the `EDFS_PASSWORD`
/// environment variable, or a prompt without echo on the terminal — in that order of preference.
public enum PasswordSource: Sendable, Equatable {
    case file(String)
    case standardInput
    case environment(String)
    case prompt(String)

    /// The longest password accepted, in bytes.
    public static let maximumLength = 1024

    /// Picks the source the way the CLI documents it.
    public static func choose(file: String?, standardInput: Bool, environment: [String: String],
                              variable: String = "EDFS_PASSWORD", prompt: String = "Password: ") -> PasswordSource {
        if let file { return .file(file) }
        if standardInput { return .standardInput }
        if environment[variable] != nil { return .environment(variable) }
        return .prompt(prompt)
    }

    /// Reads the password into wiped memory. A trailing newline (from a file or a pipe) is not part of it.
    public func read(environment: [String: String]) throws -> SecureBytes {
        var bytes: [UInt8]
        switch self {
        case let .file(path):
            bytes = try Self.readAll(path: path)
        case .standardInput:
            bytes = try Self.readLine(fd: 0)
        case let .environment(name):
            bytes = Array((environment[name] ?? "").utf8)
        case let .prompt(text):
            bytes = try Self.promptWithoutEcho(text)
        }
        defer { secureWipe(&bytes) }
        while let last = bytes.last, last == UInt8(ascii: "\n") || last == UInt8(ascii: "\r") { bytes.removeLast() }
        guard !bytes.isEmpty else { throw PasswordError.empty(self.description) }
        guard bytes.count <= Self.maximumLength else { throw PasswordError.tooLong }
        return SecureBytes(copying: bytes)
    }

    var description: String {
        switch self {
        case let .file(path): return "password file \(path)"
        case .standardInput: return "standard input"
        case let .environment(name): return "$\(name)"
        case .prompt: return "the prompt"
        }
    }

    private static func readAll(path: String) throws -> [UInt8] {
        let fd = open(path, O_RDONLY | O_CLOEXEC)
        guard fd >= 0 else { throw PasswordError.unreadable(path, String(cString: strerror(errno))) }
        defer { close(fd) }
        return try readUpTo(fd: fd, stopAtNewline: true)  // the first line is the password
    }

    private static func readLine(fd: Int32) throws -> [UInt8] { try readUpTo(fd: fd, stopAtNewline: true) }

    /// Reads until EOF (or a newline), refusing more than `maximumLength` + 2 bytes.
    private static func readUpTo(fd: Int32, stopAtNewline: Bool) throws -> [UInt8] {
        var result = [UInt8]()
        result.reserveCapacity(maximumLength + 3)  // never reallocated, so no unwiped copy is left in freed memory
        var byte: UInt8 = 0
        while result.count <= maximumLength + 2 {
            let n = Glibc.read(fd, &byte, 1)
            if n < 0 && errno == EINTR { continue }
            if n <= 0 { break }
            if stopAtNewline && byte == UInt8(ascii: "\n") { break }
            result.append(byte)
        }
        byte = 0
        guard result.count <= maximumLength + 2 else {
            secureWipe(&result)
            throw PasswordError.tooLong
        }
        return result
    }

    /// Prompts on the controlling terminal with echo off; fails when there is no terminal.
    private static func promptWithoutEcho(_ text: String) throws -> [UInt8] {
        let fd = open("/dev/tty", O_RDWR | O_CLOEXEC)
        guard fd >= 0 else { throw PasswordError.noTerminal }
        defer { close(fd) }
        var original = termios()
        guard tcgetattr(fd, &original) == 0 else { throw PasswordError.noTerminal }
        var silent = original
        silent.c_lflag &= ~tcflag_t(ECHO)
        silent.c_lflag |= tcflag_t(ECHONL)
        _ = text.withCString { write(fd, $0, strlen($0)) }
        guard tcsetattr(fd, TCSAFLUSH, &silent) == 0 else { throw PasswordError.noTerminal }
        defer { _ = tcsetattr(fd, TCSAFLUSH, &original) }
        return try readLine(fd: fd)
    }
}
