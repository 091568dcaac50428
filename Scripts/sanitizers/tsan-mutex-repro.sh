#!/usr/bin/env bash
# Does ThreadSanitizer see Synchronization.Mutex? Two pthreads each take a lock 200,000 times to mutate what it
# guards (an Int inside it, an Array inside it, a class field beside a Mutex<Void>), once with Synchronization.Mutex
# and once with the project's PthreadMutex (Sources/EDFSCrypto/PthreadMutex.swift), each at -Onone and -O.
# The counts come out exact with both locks (the mutual exclusion holds); TSan reports races only with Mutex, whose
# contended path is a FUTEX_LOCK_PI/FUTEX_UNLOCK_PI syscall TSan does not model. Output: one line per build.
set -euo pipefail
cd "$(dirname "$0")/../.."
work=$(mktemp -d)
trap 'rm -rf "$work"' EXIT
cat > "$work/TwoThreads.swift" <<'SWIFT'
import Glibc
final class Box: @unchecked Sendable { var n = 0 }  // a plain field: only the lock beside it guards it
final class Work { let body: @Sendable () -> Void; init(_ body: @escaping @Sendable () -> Void) { self.body = body } }
/// Runs `body` 200,000 times on each of two pthreads and joins them (pthread_join: a join TSan sees).
func twoThreads(_ body: @escaping @Sendable () -> Void) {
    var threads: [pthread_t] = []
    for _ in 0..<2 {
        var thread = pthread_t()
        let work = Unmanaged.passRetained(Work(body)).toOpaque()
        pthread_create(&thread, nil, { raw in
            let work = Unmanaged<Work>.fromOpaque(raw!).takeRetainedValue()
            for _ in 0..<200_000 { work.body() }
            return nil
        }, work)
        threads.append(thread)
    }
    for thread in threads { pthread_join(thread, nil) }
}
SWIFT
for lock in Mutex PthreadMutex; do
  mkdir -p "$work/$lock"
  sources=("$work/TwoThreads.swift" "$work/$lock/main.swift")
  [ "$lock" = PthreadMutex ] && sources+=(Sources/EDFSCrypto/PthreadMutex.swift)
  cat > "$work/$lock/main.swift" <<SWIFT
import Synchronization
let int = $lock<Int>(0); twoThreads { int.withLock { \$0 += 1 } }
let array = $lock<[Int]>([]); twoThreads { array.withLock { \$0.append(1) } }
let box = Box(); let void = $lock<Void>(()); twoThreads { void.withLock { _ in box.n += 1 } }
print("counts", int.withLock { \$0 }, array.withLock { \$0.count }, box.n, terminator: "")
SWIFT
  for opt in -Onone -O; do
    swiftc -sanitize=thread "$opt" -module-name repro "${sources[@]}" -o "$work/$lock$opt"
    "$work/$lock$opt" > "$work/out" 2>&1 && rc=0 || rc=$?
    echo "$lock $opt: $(grep -o 'counts.*' "$work/out" | head -1) (expected 400000 each), exit $rc," \
      "$(grep -c 'WARNING: ThreadSanitizer' "$work/out" || true) TSan warnings"
  done
done
