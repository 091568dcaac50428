/// What a transfer past the page cache (O_DIRECT) needs, shared by the client's `get --direct` output and the node's
/// direct object I/O (`DirectIO:`).
public enum DirectTransfer {
    /// O_DIRECT (Glibc's module does not export it: it needs _GNU_SOURCE). Linux's value: 0o40000 on x86_64,
    /// 0o200000 on arm64 (where 0o40000 is O_DIRECTORY); 0 where its value is not known here (no direct I/O).
    #if os(Linux) && arch(x86_64)
    public static let openFlag: Int32 = 0o40000
    #elseif os(Linux) && arch(arm64)
    public static let openFlag: Int32 = 0o200000
    #else
    public static let openFlag: Int32 = 0
    #endif

    /// Alignment of the memory, file offset and length of a direct transfer (the page size; every Linux file system's
    /// logical block size divides it).
    public static let alignment = 4096

    /// `count` rounded up to a multiple of `alignment`.
    public static func roundedUp(_ count: Int) -> Int { (count + alignment - 1) / alignment * alignment }
}
