import EDFSFormat

/// The config parser (`ClusterConfig(parsing:path:)`) over arbitrary text, then the typed accessors a node and a
/// client call on what it accepted.
@_cdecl("LLVMFuzzerTestOneInput")
public func fuzzConfig(_ data: UnsafePointer<UInt8>, _ size: Int) -> CInt {
    let text = String(decoding: UnsafeBufferPointer(start: data, count: size), as: UTF8.self)
    guard let config = try? ClusterConfig(parsing: text, path: "/fuzz/etc/dfs.conf") else { return 0 }
    for setting in config.settings {
        _ = try? config.integer(setting.key)
        _ = try? config.byteSize(setting.key)
        _ = try? config.boolean(setting.key)
        _ = try? config.seconds(setting.key)
        _ = config.path(setting.key)
    }
    for server in config.servers { _ = config.server(named: server.name) }
    for user in config.users { _ = user.loginVerifier; _ = user.description }
    _ = config.loginVerifiers
    _ = config.passwordDigests
    _ = config.warnings.map { "\($0)" }
    return 0
}
