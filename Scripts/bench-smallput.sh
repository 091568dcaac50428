#!/usr/bin/env bash
# A put of a folder of FILES random files of SIZE bytes into a local cluster (4 nodes, R = 2, TLS on 127.0.0.1), in
# one command (issue 15, small files): files/s, the client's CPU and peak RSS (/usr/bin/time -v), the nodes' CPU
# (/proc/PID/stat) and the load average; then a `get -r` of the tree, checked byte for byte. RUNS puts, each into a
# new folder of the same cluster.
#
#   Scripts/bench-smallput.sh [FILES=1000] [SIZE=4096] [RUNS=2]
#   environment: EDFS (default .build/release/edfs), KDF_ITERATIONS=100000, BENCH_DIR (parent of the temp folder),
#                SEGMENT_SIZE (the client's SegmentSize in bytes; default: the config's, 1 MiB),
#                INLINE_LIMIT (the client's InlineLimit in bytes; default: the config's, 4 KiB; 0 = no inline files)
set -euo pipefail
cd "$(dirname "$0")/.."
FILES=${1:-1000}
SIZE=${2:-4096}
RUNS=${3:-2}
KDF_ITERATIONS=${KDF_ITERATIONS:-100000}
. Scripts/lib/cluster.sh
EDFS=$(realpath "${EDFS:-.build/release/edfs}")
[ -x /usr/bin/time ] || { echo "bench-smallput: /usr/bin/time is missing (apt-get install time)" >&2; exit 1; }

cluster_workdir edfs-smallput "${BENCH_DIR:-}"

TICK=$(getconf CLK_TCK)

PASSWORD_FILE=$WORK/password
head -c 24 /dev/urandom | base64 > "$PASSWORD_FILE"
mkdir -p "$WORK/data/small" "$WORK/out"
head -c "$((FILES * SIZE))" /dev/urandom | split -b "$SIZE" -a 6 -d - "$WORK/data/small/f"
cluster_start "$EDFS" "$WORK/edfs" bench "$PASSWORD_FILE" 4 2
echo "KDFIterations: $KDF_ITERATIONS" >> "$CLUSTER_CONF"
[ -n "${SEGMENT_SIZE:-}" ] && echo "SegmentSize: $SEGMENT_SIZE" >> "$CLUSTER_CONF"
[ -n "${INLINE_LIMIT:-}" ] && echo "InlineLimit: $INLINE_LIMIT" >> "$CLUSTER_CONF"
export EDFS_PASSWORD
EDFS_PASSWORD=$(cat "$PASSWORD_FILE")
EO=(--config "$CLUSTER_CONF" --quiet)
head -c 4096 /dev/urandom > "$WORK/warm.bin"
"$EDFS" put "$WORK/warm.bin" --as warm "${EO[@]}" > /dev/null  # creates the user's keys; not measured

echo "bench-smallput: $FILES × $SIZE B, SegmentSize ${SEGMENT_SIZE:-default}, InlineLimit ${INLINE_LIMIT:-default}, $(nproc) cores, $EDFS"
for run in $(seq "$RUNS"); do
  load=$(cut -d' ' -f1-3 /proc/loadavg)
  n0=$(process_ticks "${CLUSTER_NODE_PIDS[@]}")
  w0=$(date +%s%N)
  /usr/bin/time -v -o "$WORK/time.txt" "$EDFS" put "$WORK/data/small" --to "run$run" "${EO[@]}" > "$WORK/put.out" 2> "$WORK/put.err" \
    || { head -40 "$WORK/put.err" >&2; exit 1; }
  w1=$(date +%s%N)
  n1=$(process_ticks "${CLUSTER_NODE_PIDS[@]}")
  stored=$(grep -c '^stored' "$WORK/put.out" || true)
  awk -v w0="$w0" -v w1="$w1" -v f="$FILES" -v n=$((n1 - n0)) -v k="$TICK" -v load="$load" -v stored="$stored" \
      -v u="$(awk -F': ' '/User time/ {print $2}' "$WORK/time.txt")" \
      -v s="$(awk -F': ' '/System time/ {print $2}' "$WORK/time.txt")" \
      -v rss="$(awk -F': ' '/Maximum resident set size/ {print $2}' "$WORK/time.txt")" 'BEGIN {
    secs = (w1 - w0) / 1e9
    printf "put run %d: %.2f s, %.0f files/s (%d result lines); client CPU %.2f s (user %.2f, sys %.2f), peak RSS %d MiB; nodes CPU %.2f s; load before %s\n",
      '"$run"', secs, f / secs, stored, u + s, u, s, rss / 1024, n / k, load }'
done
rm -rf "$WORK/out/get"
n0=$(process_ticks "${CLUSTER_NODE_PIDS[@]}")
w0=$(date +%s%N)
/usr/bin/time -v -o "$WORK/time.txt" "$EDFS" get -r run1 -o "$WORK/out/get" "${EO[@]}" > /dev/null 2> "$WORK/get.err" \
  || { tail -3 "$WORK/get.err" >&2; exit 1; }
w1=$(date +%s%N)
n1=$(process_ticks "${CLUSTER_NODE_PIDS[@]}")
if diff -r "$WORK/data/small" "$WORK/out/get/run1/small" > /dev/null; then check=byte-exact; else check=MISMATCH; fi
awk -v w0="$w0" -v w1="$w1" -v f="$FILES" -v n=$((n1 - n0)) -v k="$TICK" -v check="$check" \
    -v u="$(awk -F': ' '/User time/ {print $2}' "$WORK/time.txt")" \
    -v s="$(awk -F': ' '/System time/ {print $2}' "$WORK/time.txt")" 'BEGIN {
  secs = (w1 - w0) / 1e9
  printf "get -r run1: %.2f s, %.0f files/s, %s; client CPU %.2f s, nodes CPU %.2f s\n", secs, f / secs, check, u + s, n / k }'
[ "$check" = byte-exact ] || exit 1
# Only what the users' folders hold (manifests, objects, each user's keyslot and verifier), not certificates or logs.
echo "in the nodes' user folders: $(find "$WORK/edfs" -path '*/users/*' -type f | wc -l) files; load after: $(cut -d' ' -f1-3 /proc/loadavg)"
