import EDFSCrypto

/// A value shared between a command and its interrupt handler, behind a lock.
final class LockedValue<Value: Sendable>: Sendable {
    private let storage: PthreadMutex<Value>

    init(_ value: Value) { storage = PthreadMutex(value) }

    var value: Value { storage.withLock { $0 } }

    func update(_ change: (inout Value) -> Void) { storage.withLock { change(&$0) } }
}
