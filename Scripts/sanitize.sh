#!/usr/bin/env bash
# The test suite under AddressSanitizer and ThreadSanitizer (issue 11), each in its own build folder.
#
#   Scripts/sanitize.sh [address|thread|all] [extra swift test arguments, e.g. --filter EDFSNodeTests]
#
# Test deadlines are multiplied by EDFS_TEST_TIME_SCALE (3 under ASan, 10 under TSan), which only
# Tests/EDFSTestSupport reads (TestTime); product defaults never change. SECURITY.md, "Sanitizers", has the findings.
# Do not edit this script while it runs: bash reads it as it goes.
# address: ASan with LeakSanitizer. ASan found two real bugs, both fixed: a connection accepted while the node stopped
#   was dropped with its NIOAsyncWriter unfinished (a trap); a node that could not bind its port kept its thread pool
#   running after start() failed (LSan: 552 B from NIOThreadPool; its summary replaced the node's error line). The
#   leaks LSan reports otherwise sit in Foundation's and XCTest's one-time allocations; Scripts/sanitizers/lsan.supp
#   names them, so a leak anywhere else fails the run.
# thread: TSan. It found two real bugs in how an interrupted get ends (exit(130) ran libcrypto's atexit cleanup while
#   workers still used it, a crash: fixed with OPENSSL_INIT_NO_ATEXIT; the main thread could exit 1 first: it now
#   parks once an interrupt is under way) and no data race in edfs code. Its reports under
#   Synchronization.Mutex were false: on Linux a contended Mutex is handed over by FUTEX_LOCK_PI/UNLOCK_PI syscalls TSan
#   does not model (Scripts/sanitizers/tsan-mutex-repro.sh); edfs locks with PthreadMutex (EDFSCrypto), which TSan
#   sees. Scripts/sanitizers/tsan.supp suppresses one proven false positive, a Swift runtime continuation fast path
#   without a TSan acquire (Scripts/sanitizers/tsan-continuation-repro.sh), at its three sites: NodeConnectionCore.call,
#   NIO's EventLoopFuture.get and NodeConnectionUpload.finish. `edfs mount` under TSan dies with exit 66 at unmount ("thread T… finished with
#   ignores enabled": libfuse cancels its workers blocked in read, Scripts/sanitizers/tsan-cancel-repro.sh; not
#   suppressible); the mount tests accept exactly that. The fault campaign's stripe lost under TSan was the campaign's
#   own doing (its wipe ran beside running clients), fixed in the campaign.
# Runs of 2026-12-07 (SECURITY.md has the detail): address 330 tests, 742 s, 1 failure (the bind leak, fixed; the
#   full ASan suite not rerun since, its two suites pass); thread 330 / 331 / 331 tests: 663 s with the 2 mount aborts,
#   557 s with 1 report (the upload false positive, suppressed since), then 488 s, all passed, no report.
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
  grep -E "✘|Test run with|ERROR: AddressSanitizer|WARNING: ThreadSanitizer|SUMMARY: |ThreadSanitizer: reported|finished with ignores" \
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
