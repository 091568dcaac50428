#!/usr/bin/env bash
# Can a process whose threads are cancelled end cleanly under ThreadSanitizer? A thread blocks in read(2) on a pipe
# (a cancellation point, as libfuse's workers block reading /dev/fuse); main cancels it with pthread_cancel and joins
# it, which is what libfuse's fuse_session_loop_mt does to its workers when the file system is unmounted.
# TSan aborts the process at the join: "thread T1 finished with ignores enabled", exit code 66, with no ignore stack
# listed (the cancellation unwinds out of TSan's read interceptor before it ends the ignores it began) — no FUSE and
# no edfs code involved. The report cannot be suppressed (TSan calls Die() for it); this is why `edfs mount` built
# with TSan exits 66 when it is unmounted (Tests/edfsTests/MountSupport.swift, MountProcess.stop).
set -euo pipefail
work=$(mktemp -d)
trap 'rm -rf "$work"' EXIT
toolchain=$(dirname "$(command -v swiftc)")
runtime=$(dirname "$toolchain")/lib/swift/linux
cat > "$work/repro.c" <<'C'
#include <pthread.h>
#include <stdio.h>
#include <unistd.h>
static int fds[2];
static void *worker(void *arg) {
    char byte;
    (void)arg;
    read(fds[0], &byte, 1);  /* blocks until cancelled */
    return NULL;
}
int main(void) {
    pthread_t thread;
    if (pipe(fds) != 0) return 1;
    pthread_create(&thread, NULL, worker, NULL);
    usleep(200000);
    pthread_cancel(thread);
    pthread_join(thread, NULL);
    printf("joined\n");
    return 0;
}
C
# The toolchain's TSan runtime carries libdispatch interceptors: link Swift's libdispatch too.
"$toolchain/clang" -fsanitize=thread -g "$work/repro.c" -o "$work/repro" -lpthread -L"$runtime" -ldispatch \
  -lBlocksRuntime -Wl,-rpath,"$runtime"
"$work/repro" > "$work/out" 2>&1 && rc=0 || rc=$?
echo "exit $rc; joined printed: $(grep -c '^joined' "$work/out" || true);" \
  "$(grep -o 'ThreadSanitizer: thread T[0-9]* *finished with ignores enabled' "$work/out" || echo 'no TSan report')"
