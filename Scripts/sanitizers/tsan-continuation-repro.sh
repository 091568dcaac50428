#!/usr/bin/env bash
# Does ThreadSanitizer see a continuation's resume happen before the resumed task's next line? A pthread writes a
# fresh object, then resumes a CheckedContinuation with it; the task reads the object after the await:
#   early: the task waits 20 ms before it awaits, so the pthread has resumed first (the continuation is Resumed
#          when swift_continuation_await runs);
#   late:  the pthread waits 200 ms before it resumes, so the task has suspended first.
# Swift's runtime tells TSan about the hand-off (_swift_tsan_release in resumeTaskAfterContinuation, acquire when the
# task's job runs), but swift_continuation_await's fast path, taken when the continuation was already resumed,
# continues without a TSan acquire: "early" reports a race, "late" reports none. The reads are correct either way
# (the runtime's own acquire load of the continuation status orders them; TSan does not see that load).
set -euo pipefail
work=$(mktemp -d)
trap 'rm -rf "$work"' EXIT
for mode in early late; do
  before=20000 after=0
  [ "$mode" = late ] && before=0 after=200000
  mkdir -p "$work/$mode"
  cat > "$work/$mode/main.swift" <<SWIFT
import Glibc
final class Payload: @unchecked Sendable { var bytes: [UInt8] = [] }
final class Work { let body: () -> Void; init(_ body: @escaping () -> Void) { self.body = body } }
func onPthread(_ body: @escaping () -> Void) {
    var thread = pthread_t()
    pthread_create(&thread, nil, { raw in
        Unmanaged<Work>.fromOpaque(raw!).takeRetainedValue().body(); return nil
    }, Unmanaged.passRetained(Work(body)).toOpaque())
    pthread_detach(thread)
}
var sum = 0
for _ in 0..<50 {
    let payload = await withCheckedContinuation { (continuation: CheckedContinuation<Payload, Never>) in
        onPthread {
            usleep($after)
            let payload = Payload()
            payload.bytes = [1, 2, 3]             // written on the pthread before the resume
            continuation.resume(returning: payload)
        }
        usleep($before)
    }
    sum += payload.bytes.count                    // read by the task after the await
}
print("sum", sum, terminator: "")
SWIFT
  swiftc -sanitize=thread -Onone "$work/$mode/main.swift" -o "$work/$mode/repro"
  "$work/$mode/repro" > "$work/out" 2>&1 && rc=0 || rc=$?
  echo "$mode: $(grep -o 'sum [0-9]*' "$work/out") (expected 150), exit $rc," \
    "$(grep -c 'WARNING: ThreadSanitizer' "$work/out" || true) TSan warnings"
done
