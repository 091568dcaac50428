#!/usr/bin/env bash
# The test suite under AddressSanitizer and ThreadSanitizer (issue 11), each in its own build folder.
#
#   Scripts/sanitize.sh [address|thread|all] [extra swift test arguments, e.g. --filter EDFSNodeTests]
#
# address: ASan with LeakSanitizer. The leaks LSan reports sit in Foundation's and the Swift runtime's one-time
#   allocations; Scripts/sanitizers/lsan.supp names them, so a leak anywhere else fails the run.
# thread: TSan. Synchronization.Mutex on Linux locks with raw futex syscalls that TSan does not model, so accesses under
#   such a lock are reported as races between the threads that took it in turn; Scripts/sanitizers/tsan.supp
#   suppresses reports whose stack passes through Mutex.withLock, and nothing else.
set -euo pipefail
cd "$(dirname "$0")/.."
Scripts/install-deps.sh
which=${1:-all}
shift || true
supp=$PWD/Scripts/sanitizers
status=0
run() { # name, sanitizer, then swift test arguments
  local name=$1 sanitizer=$2
  shift 2
  echo "== $sanitizer sanitizer (.build-$name)"
  mkdir -p ".build-$name"
  swift build --build-tests --sanitize="$sanitizer" --scratch-path ".build-$name" > ".build-$name/edfs-build.log" 2>&1 \
    || { tail -20 ".build-$name/edfs-build.log"; return 1; }
  swift test --skip-build --sanitize="$sanitizer" --scratch-path ".build-$name" "$@" > ".build-$name/edfs-test.log" 2>&1 \
    && result=0 || result=$?
  grep -E "✘|Test run with|ERROR: AddressSanitizer|WARNING: ThreadSanitizer|SUMMARY: |ThreadSanitizer: reported" \
    ".build-$name/edfs-test.log" | sort | uniq -c | sort -rn | head -30
  echo "swift test exit $result (log: .build-$name/edfs-test.log)"
  return "$result"
}
case "$which" in
  address|all)
    EDFS_TEST_TIME_SCALE=3 ASAN_OPTIONS=detect_leaks=1 LSAN_OPTIONS="suppressions=$supp/lsan.supp:print_suppressions=0" \
      run asan address "$@" || status=1 ;;&
  thread|all)
    EDFS_TEST_TIME_SCALE=10 TSAN_OPTIONS="suppressions=$supp/tsan.supp:halt_on_error=0:report_signal_unsafe=0" \
      run tsan thread "$@" || status=1 ;;
  address) ;;
  *) echo "usage: Scripts/sanitize.sh [address|thread|all] [swift test arguments]" >&2; exit 64 ;;
esac
exit "$status"
