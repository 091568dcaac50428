#!/usr/bin/env bash
# A large put, A/B between edfs builds in one run (issue 15 item 2, docs/PERFORMANCE.md): for each round and each
# binary, a fresh local 4-node cluster (R = 2) of that binary, `dd conv=fdatasync` of the same size into the same
# folder (the ceiling, ÷ R since edfs writes R copies), then PUTS puts of one MIB file of random bytes. Per put: wall
# MB/s, the ratio to dd fdatasync / R of that round, the nodes' CPU (utime + stime from /proc/PID/stat) per stored byte,
# the nodes' minor faults, the client's CPU, and the load average. Every put is checked by a get + cmp at the end of the
# round.
#
#   Scripts/bench-bigput.sh [MIB=512] [ROUNDS=2] [PUTS=2] EDFS_BINARY[@Key=value...]...
#   environment: KDF_ITERATIONS=100000
# A binary may carry node settings after '@' (its nodes' config gets 'Key: value'), e.g. .build/release/edfs@DirectIO=yes
# to compare one build with and without direct I/O.
set -euo pipefail
cd "$(dirname "$0")/.."
MIB=${1:-512}; ROUNDS=${2:-2}; PUTS=${3:-2}; shift 3 || true
BINS=("$@")
[ "${#BINS[@]}" -gt 0 ] || BINS=(.build/release/edfs)
. Scripts/lib/cluster.sh
cluster_workdir edfs-bigput
TICK=$(getconf CLK_TCK)
stat_sum() { # FIELD PID... : the sum of /proc/PID/stat field FIELD (1-based; 10 = minflt, 14+15 = utime+stime)
  local f=$1 pid t=0 v; shift
  for pid in "$@"; do
    if [ "$f" = cpu ]; then v=$(awk '{print $14 + $15}' "/proc/$pid/stat" 2>/dev/null || echo 0)
    else v=$(awk -v f="$f" '{print $f}' "/proc/$pid/stat" 2>/dev/null || echo 0); fi
    t=$((t + v))
  done
  echo "$t"
}
head -c $((MIB << 20)) /dev/urandom > "$WORK/big.bin"
BYTES=$((MIB << 20))
printf '%-5s %-28s %8s %7s %8s %9s %9s %9s  %s\n' round binary "MB/s" "×dd/R" "ddR MB/s" "node ns/B" "node flt" "client s" load
for round in $(seq "$ROUNDS"); do
  for bin in "${BINS[@]}"; do
    cluster_binary "$bin"
    mkdir -p "$WORK/r"
    cluster_start_logged_in "$EDFS" "$WORK/r" bench "${KDF_ITERATIONS:-100000}"
    "$EDFS" put "$WORK/big.bin" --as warm.bin "${CLUSTER_ARGS[@]}" > /dev/null 2>&1  # keys, connections' first use
    sync
    w0=$(date +%s%N)
    dd if=/dev/zero of="$WORK/r/dd.bin" bs=1M count="$MIB" conv=fdatasync status=none
    w1=$(date +%s%N)
    rm -f "$WORK/r/dd.bin"
    ddr=$(awk -v b="$BYTES" -v ns=$((w1 - w0)) 'BEGIN { printf "%.0f", b / (ns / 1e9) / 1e6 / 2 }')
    for p in $(seq "$PUTS"); do
      sync
      load=$(cut -d' ' -f1 /proc/loadavg)
      du0=$(du -sb "$WORK/r/c" | cut -f1)
      c0=$(stat_sum cpu "${CLUSTER_NODE_PIDS[@]}"); f0=$(stat_sum 10 "${CLUSTER_NODE_PIDS[@]}")
      w0=$(date +%s%N)
      /usr/bin/time -f '%U %S' -o "$WORK/time.txt" "$EDFS" put "$WORK/big.bin" --as "big$p.bin" "${CLUSTER_ARGS[@]}" > /dev/null
      w1=$(date +%s%N)
      c1=$(stat_sum cpu "${CLUSTER_NODE_PIDS[@]}"); f1=$(stat_sum 10 "${CLUSTER_NODE_PIDS[@]}")
      du1=$(du -sb "$WORK/r/c" | cut -f1)
      stored=$((du1 - du0))
      awk -v b="$BYTES" -v ns=$((w1 - w0)) -v ddr="$ddr" -v c=$((c1 - c0)) -v tick="$TICK" -v s="$stored" \
          -v f=$((f1 - f0)) -v r="$round" -v bin="$bin" -v load="$load" -v cl="$(awk '{print $1 + $2}' "$WORK/time.txt")" \
          'BEGIN { mbs = b / (ns / 1e9) / 1e6;
                   printf "%-5s %-28s %8.0f %7.2f %8d %9.2f %9d %9.2f  %s\n", r, bin, mbs, mbs / ddr, ddr,
                          c / tick * 1e9 / s, f, cl, load }'
    done
    for p in $(seq "$PUTS"); do
      "$EDFS" get "big$p.bin" -o "$WORK/check.bin" "${CLUSTER_ARGS[@]}" 2> /dev/null
      cmp "$WORK/big.bin" "$WORK/check.bin"; rm -f "$WORK/check.bin"
    done
    cluster_stop
    rm -rf "$WORK/r" "$WORK/r.log"
  done
done
