#!/usr/bin/env bash
# A large put then two gets to /dev/null, A/B between edfs builds (or one build with and without a node setting), in
# one run (issue 15, docs/PERFORMANCE.md "Direct I/O on the node"): for each round and each binary, a fresh local
# 4-node cluster (R = 2), a put of one MIB file of random bytes, then two gets of it to /dev/null. Per transfer: wall
# MB/s, the client's CPU and the nodes' CPU (utime + stime from /proc/PID/stat); for the put also the nodes' CPU per
# stored byte; the load average. The first get is the one that meets whatever the put left in the page cache.
# Each round ends with a get piped into cmp against the file.
#
#   Scripts/bench-putget.sh [MIB=1024] [ROUNDS=2] EDFS_BINARY[@Key=value...]...
#   e.g. Scripts/bench-putget.sh 1024 2 /tmp/edfs-before /tmp/edfs-after /tmp/edfs-after@DirectIO=yes
#   environment: KDF_ITERATIONS=100000
set -euo pipefail
cd "$(dirname "$0")/.."
MIB=${1:-1024}; ROUNDS=${2:-2}; shift 2 || true
BINS=("$@")
[ "${#BINS[@]}" -gt 0 ] || BINS=(.build/release/edfs)
. Scripts/lib/cluster.sh
cluster_workdir edfs-putget
TICK=$(getconf CLK_TCK)
BYTES=$((MIB << 20))
head -c "$BYTES" /dev/urandom > "$WORK/big.bin"
# measure LABEL STORED_DIR COMMAND...: one line of figures for COMMAND (stdout to /dev/null); node ns/B for a put
measure() {
  local label=$1 dir=$2 n0 n1 w0 w1 d0 d1 load; shift 2
  load=$(cut -d' ' -f1 /proc/loadavg)
  d0=$(du -sb "$dir" | cut -f1); n0=$(process_ticks "${CLUSTER_NODE_PIDS[@]}"); w0=$(date +%s%N)
  /usr/bin/time -f '%U %S' -o "$WORK/time.txt" "$@" > /dev/null
  w1=$(date +%s%N); n1=$(process_ticks "${CLUSTER_NODE_PIDS[@]}"); d1=$(du -sb "$dir" | cut -f1)
  awk -v l="$label" -v b="$BYTES" -v ns=$((w1 - w0)) -v n=$((n1 - n0)) -v k="$TICK" -v s=$((d1 - d0)) \
      -v t="$(cat "$WORK/time.txt")" -v load="$load" \
      -v put="$([[ $label == *": put" ]] && echo 1 || echo 0)" \
      'BEGIN { split(t, a, " "); per = put && s > 0 ? sprintf("%9.2f", n / k * 1e9 / s) : sprintf("%9s", "");
               printf "%-44s %8.0f %9.2f %9.2f %s  %s\n", l, b / (ns / 1e9) / 1e6, a[1] + a[2], n / k, per, load }'
}
printf '%-44s %8s %9s %9s %9s  %s\n' "round binary: transfer" "MB/s" "client s" "nodes s" "node ns/B" load
for round in $(seq "$ROUNDS"); do
  for bin in "${BINS[@]}"; do
    cluster_binary "$bin"
    mkdir -p "$WORK/r"
    cluster_start_logged_in "$EDFS" "$WORK/r" bench "${KDF_ITERATIONS:-100000}"
    sync
    measure "$round $(basename "$bin"): put" "$WORK/r/c" "$EDFS" put "$WORK/big.bin" --as big "${CLUSTER_ARGS[@]}"
    measure "$round $(basename "$bin"): get 1" "$WORK/r/c" "$EDFS" get big -o - "${CLUSTER_ARGS[@]}"
    measure "$round $(basename "$bin"): get 2" "$WORK/r/c" "$EDFS" get big -o - "${CLUSTER_ARGS[@]}"
    "$EDFS" get big -o - "${CLUSTER_ARGS[@]}" | cmp - "$WORK/big.bin"
    cluster_stop
    rm -rf "$WORK/r" "$WORK/r.log"
  done
done
