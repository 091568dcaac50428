import COpenSSL

/// Keeps libcrypto's global state until the process is gone: no `OPENSSL_cleanup` from an `atexit` handler.
///
/// A command may exit while worker threads still use libcrypto (Ctrl-C during a get: `exit(130)` from the signal
/// queue while stripes are being opened). With the default cleanup, `exit` frees libcrypto's locks and a worker's
/// next `EVP_CIPHER_fetch` reads a freed lock and crashes (found under TSan as a SEGV in
/// `pthread_rwlock_rdlock`, the get exiting with a crash instead of 130). The process is ending anyway, so nothing
/// is lost by not cleaning up. Call it first, before any other libcrypto use (the flag only counts on the first
/// initialisation); returns whether libcrypto accepted it.
@discardableResult
public func keepLibcryptoUntilExit() -> Bool {
    OPENSSL_init_crypto(UInt64(OPENSSL_INIT_NO_ATEXIT), nil) == 1
}
