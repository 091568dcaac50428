#!/usr/bin/env bash
# The nodes' side of small files (issue 15): a local 4-node cluster (R = 2), a put of FILES random 4 KiB files in one
# command, with the four nodes measured during it: `perf stat` (task-clock, faults, context switches) of all four,
# `strace -c -f` of one (syscall counts: opens, fsyncs, renames, mkdirs, futex) in a second identical put, and
# `perf record -e cpu-clock` of all four in a third. Prints files/s of each put and the summaries; raw outputs in OUT.
#
#   Scripts/profile-small-put.sh [FILES=1000] [OUT]
#   environment: EDFS (default .build/release/edfs, built when missing), KDF_ITERATIONS=100000, BENCH_DIR,
#                PARALLEL=1 (puts at once, each of FILES/PARALLEL files: several files in flight, as a client that
#                pipelines files would send)
set -euo pipefail
cd "$(dirname "$0")/.."
FILES=${1:-1000}
KDF_ITERATIONS=${KDF_ITERATIONS:-100000}
PARALLEL=${PARALLEL:-1}
case "$FILES" in *[!0-9]*|"") echo "usage: Scripts/profile-small-put.sh [FILES=1000] [OUT]" >&2; exit 64;; esac
if [ -z "${EDFS:-}" ]; then
  EDFS=.build/release/edfs
  [ -x "$EDFS" ] || swift build -c release --product edfs >/dev/null
fi
EDFS=$(realpath "$EDFS")
WORK=$(mktemp -d "${BENCH_DIR:-${TMPDIR:-/tmp}}/edfs-smallput.XXXXXX")
OUT=${2:-$WORK/out}
mkdir -p "$OUT"
. Scripts/lib/cluster.sh
cleanup() {
  local rc=$?
  trap - EXIT INT TERM
  cluster_stop
  rm -rf "$WORK/edfs" "$WORK/data"
  [ "$OUT" = "$WORK/out" ] || rm -rf "$WORK"
  exit "$rc"
}
trap cleanup EXIT
trap 'exit 130' INT
trap 'exit 143' TERM

head -c 18 /dev/urandom | base64 > "$WORK/password"
cluster_start "$EDFS" "$WORK/edfs" bench "$WORK/password" 4 2
echo "KDFIterations: $KDF_ITERATIONS" >> "$CLUSTER_CONF"
export EDFS_PASSWORD
EDFS_PASSWORD=$(cat "$WORK/password")
EO=(--config "$CLUSTER_CONF" --quiet)
PIDS=$(IFS=,; echo "${CLUSTER_NODE_PIDS[*]}")
for set in a b c; do
  for ((p = 0; p < PARALLEL; p++)); do
    mkdir -p "$WORK/data/$set/$p"
    head -c "$((FILES / PARALLEL * 4096))" /dev/urandom | split -b 4096 -a 6 -d - "$WORK/data/$set/$p/f"
  done
done
head -c 4096 /dev/urandom > "$WORK/warm.bin"
"$EDFS" put "$WORK/warm.bin" --as warm "${EO[@]}" > /dev/null

timed_put() { # SET
  local start end
  local p pids=()
  start=$(date +%s.%N)
  for ((p = 0; p < PARALLEL; p++)); do "$EDFS" put "$WORK/data/$1/$p" --to "$1-$p" "${EO[@]}" > /dev/null & pids+=($!); done
  for p in "${pids[@]}"; do wait "$p"; done
  end=$(date +%s.%N)
  awk -v s="$start" -v e="$end" -v n="$FILES" -v set="$1" 'BEGIN { printf "put %s: %d files in %.2f s, %.0f files/s\n", set, n, e - s, n / (e - s) }'
}

echo "profile-small-put: $FILES x 4 KiB, $PARALLEL put(s) at once; $EDFS; load $(cut -d' ' -f1-3 /proc/loadavg)" | tee "$OUT/summary.txt"
perf stat -e task-clock,page-faults,context-switches -p "$PIDS" -o "$OUT/perf-stat.txt" &
STAT=$!
sleep 0.5
timed_put a | tee -a "$OUT/summary.txt"
kill -INT "$STAT"; wait "$STAT" || true
grep -E "task-clock|page-faults|context-switches" "$OUT/perf-stat.txt" | tee -a "$OUT/summary.txt"

strace -c -f -o "$OUT/strace-node1.txt" -p "${CLUSTER_NODE_PIDS[0]}" &
TRACE=$!
sleep 1
timed_put b | tee -a "$OUT/summary.txt"
kill -INT "$TRACE"; wait "$TRACE" || true
echo "node 1 syscalls (strace -c -f, put b):" | tee -a "$OUT/summary.txt"
grep -E "fsync|fdatasync|openat|rename|mkdir|futex|unlink|pwrite|statfs|write |read " "$OUT/strace-node1.txt" | tee -a "$OUT/summary.txt"

perf record -e cpu-clock -g -p "$PIDS" -o "$OUT/perf.data" 2> "$OUT/perf-record.err" &
RECORD=$!
sleep 0.5
timed_put c | tee -a "$OUT/summary.txt"
kill -INT "$RECORD"; wait "$RECORD" || true
perf report -i "$OUT/perf.data" --no-children --sort symbol --stdio 2> /dev/null | grep -E "^ +[0-9]" | head -40 \
  > "$OUT/perf-self.txt" || true
perf report -i "$OUT/perf.data" --children --sort symbol --stdio -g none 2> /dev/null | grep -E "^ +[0-9]" | head -60 \
  > "$OUT/perf-children.txt" || true
echo "top self symbols: $OUT/perf-self.txt; inclusive: $OUT/perf-children.txt" | tee -a "$OUT/summary.txt"
echo "load after: $(cut -d' ' -f1-3 /proc/loadavg)" | tee -a "$OUT/summary.txt"
