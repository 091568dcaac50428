#!/usr/bin/env bash
# Where a get's client CPU and a put's node CPU go (issue 15, items 1 and 2; docs/PERFORMANCE.md): on a local 4-node
# cluster (R = 2) of the release build, a MIB file is put, then
#   - a get of it under perf record (cpu-clock samples: where the client's CPU time goes);
#   - the same get under strace -c -f (syscalls) and perf stat (software events: task-clock, page faults, context
#     switches), to a file and to /dev/null;
#   - the four nodes during a second put of the file: perf stat and perf record attached to them, strace -c -f on one.
# The perf and strace outputs are copied to OUT (default: a folder printed at the end, under /tmp) before
# the temporary folder is removed.
#
#   Scripts/profile-transfer.sh [MIB=64] [OUT]
#   environment: EDFS (default .build/release/edfs), KDF_ITERATIONS=100000
set -euo pipefail
cd "$(dirname "$0")/.."
MIB=${1:-64}
OUT=${2:-$(mktemp -d /tmp/edfs-profile-out.XXXXXX)}
KDF_ITERATIONS=${KDF_ITERATIONS:-100000}
EDFS=$(realpath "${EDFS:-.build/release/edfs}")
. Scripts/lib/cluster.sh
mkdir -p "$OUT"
WORK=$(mktemp -d "${TMPDIR:-/tmp}/edfs-profile.XXXXXX")
MANUAL_PIDS=()
cleanup() {
  local rc=$? pid
  trap - EXIT INT TERM
  cluster_stop
  for pid in "${MANUAL_PIDS[@]}"; do kill "$pid" 2>/dev/null || true; done
  for pid in "${MANUAL_PIDS[@]}"; do wait "$pid" 2>/dev/null || true; done
  rm -rf "$WORK"
  exit "$rc"
}
trap cleanup EXIT
trap 'exit 130' INT
trap 'exit 143' TERM

head -c 18 /dev/urandom | base64 > "$WORK/password"
cluster_start "$EDFS" "$WORK/c" prof "$WORK/password"
echo "KDFIterations: $KDF_ITERATIONS" >> "$CLUSTER_CONF"
export EDFS_PASSWORD
EDFS_PASSWORD=$(cat "$WORK/password")
C=(--config "$CLUSTER_CONF" --quiet)
head -c $((MIB << 20)) /dev/urandom > "$WORK/big.bin"
head -c 4096 /dev/urandom > "$WORK/small.bin"
"$EDFS" put "$WORK/small.bin" --as small.bin "${C[@]}" > /dev/null
"$EDFS" put "$WORK/big.bin" --as big.bin "${C[@]}" > /dev/null
"$EDFS" get big.bin -o "$WORK/warm.bin" "${C[@]}" 2> /dev/null  # the nodes' objects in the page cache
cmp "$WORK/big.bin" "$WORK/warm.bin"; rm -f "$WORK/warm.bin"
echo "load average before the client runs: $(cut -d' ' -f1-3 /proc/loadavg)" | tee "$OUT/load.txt"

# --- client: where the CPU goes (perf record of the cpu-clock software event: samples of this process's CPU time,
# valid on a loaded machine; hardware counters and valgrind do not work here, see docs/PERFORMANCE.md)
perf record -q -e cpu-clock -F 4000 -g -o "$OUT/perf.get-big.data" "$EDFS" get big.bin -o "$WORK/b.out" "${C[@]}" 2> /dev/null
cmp "$WORK/big.bin" "$WORK/b.out"; rm -f "$WORK/b.out"
perf record -q -e cpu-clock -F 4000 -g -o "$OUT/perf.get-small.data" "$EDFS" get small.bin -o "$WORK/s.out" "${C[@]}" 2> /dev/null
rm -f "$WORK/s.out"
# --- client: syscalls and software counters
strace -c -f -o "$OUT/strace.get-big.txt" "$EDFS" get big.bin -o "$WORK/b.out" "${C[@]}"; rm -f "$WORK/b.out"
strace -c -f -o "$OUT/strace.get-small.txt" "$EDFS" get small.bin -o "$WORK/s.out" "${C[@]}"; rm -f "$WORK/s.out"
EV=task-clock,page-faults,minor-faults,major-faults,context-switches,cpu-migrations
for i in 1 2; do
  perf stat -e "$EV" -o "$OUT/perf.get-big-file.$i.txt" "$EDFS" get big.bin -o "$WORK/b.out" "${C[@]}"; rm -f "$WORK/b.out"
  perf stat -e "$EV" -o "$OUT/perf.get-big-null.$i.txt" sh -c "'$EDFS' get big.bin -o - --config '$CLUSTER_CONF' --quiet > /dev/null"
  perf stat -e "$EV" -o "$OUT/perf.get-small.$i.txt" "$EDFS" get small.bin -o "$WORK/s.out" "${C[@]}"; rm -f "$WORK/s.out"
done
/usr/bin/time -v -o "$OUT/time.get-big.txt" "$EDFS" get big.bin -o "$WORK/b.out" "${C[@]}"; rm -f "$WORK/b.out"
echo "load average after the client runs: $(cut -d' ' -f1-3 /proc/loadavg)" | tee -a "$OUT/load.txt"

# --- nodes during a put of the same bytes: perf stat and perf record on all four, strace -c -f on the first
PIDS=$(IFS=,; echo "${CLUSTER_NODE_PIDS[*]}")
du -sb "$WORK/c/data" > "$OUT/nodes-du-before.txt"
perf stat -e "$EV" -p "$PIDS" -o "$OUT/perf.nodes-put.txt" &
STAT_PID=$!
perf record -q -e cpu-clock -F 4000 -g -p "$PIDS" -o "$OUT/perf.nodes-put.data" 2> /dev/null &
REC_PID=$!
strace -c -f -p "${CLUSTER_NODE_PIDS[0]}" -o "$OUT/strace.node0-put.txt" &
STRACE_PID=$!
MANUAL_PIDS=("$STAT_PID" "$REC_PID" "$STRACE_PID")
sleep 1
perf stat -e "$EV" -o "$OUT/perf.put-big-client.txt" "$EDFS" put "$WORK/big.bin" --as big2.bin "${C[@]}" > /dev/null
sleep 0.5
for pid in "${MANUAL_PIDS[@]}"; do kill -INT "$pid" 2>/dev/null || true; done
for pid in "${MANUAL_PIDS[@]}"; do wait "$pid" 2>/dev/null || true; done
MANUAL_PIDS=()
du -sb "$WORK/c/data" > "$OUT/nodes-du-after.txt"
echo "outputs in $OUT"
