#!/usr/bin/env bash
# Listing at scale (issues 13 and 15): FILES tiny files in one folder on a local 4-node TLS cluster (R = 2), stored
# with one `put` (files/s), then `ls FOLDER` and `ls -l -R` timed three times each, and the requests each node served
# for one `ls` (from its connection log line): the listing must cost a few round trips per node, not one per file.
#
#   Scripts/listing-bench.sh [FILES=10000]
#   environment: EDFS (default .build/release/edfs, built when missing), KDF_ITERATIONS=100000, BENCH_DIR (parent
#                of the temporary folder, default $TMPDIR or /tmp), FILE_SIZE (bytes of random data per file instead
#                of its number: e.g. 4096, so each is an inline file whose bytes every listing carries), INLINE_LIMIT
#                (the client's InlineLimit; 0 = no inline files)
set -euo pipefail
cd "$(dirname "$0")/.."
FILES=${1:-10000}
KDF_ITERATIONS=${KDF_ITERATIONS:-100000}
case "$FILES" in *[!0-9]*|"") echo "usage: Scripts/listing-bench.sh [FILES=10000]" >&2; exit 64;; esac
if [ -z "${EDFS:-}" ]; then
  EDFS=.build/release/edfs
  [ -x "$EDFS" ] || swift build -c release --product edfs >/dev/null
fi
EDFS=$(realpath "$EDFS")
port_free() { [ -z "$(ss -Htan "sport = :$1" 2>/dev/null)" ]; }
P=""
for _ in $(seq 50); do
  c=$(( 20000 + (RANDOM * 32768 + RANDOM) % 40000 ))
  if port_free "$c" && port_free $((c + 1)) && port_free $((c + 2)) && port_free $((c + 3)); then P=$c; break; fi
done
[ -n "$P" ] || { echo "listing-bench: found no 4 free ports" >&2; exit 1; }
WORK=$(mktemp -d "${BENCH_DIR:-${TMPDIR:-/tmp}}/edfs-listing.XXXXXX")
CLUSTER_PID=""
cleanup() {
  local rc=$?
  trap - EXIT INT TERM
  if [ -n "$CLUSTER_PID" ]; then kill "$CLUSTER_PID" 2>/dev/null || true; wait "$CLUSTER_PID" 2>/dev/null || true; fi
  rm -rf "$WORK"
  exit "$rc"
}
trap cleanup EXIT
trap 'exit 130' INT
trap 'exit 143' TERM

echo "listing-bench: $FILES files of ${FILE_SIZE:-a few} bytes, InlineLimit ${INLINE_LIMIT:-default}; edfs $EDFS; $(nproc) cores; cluster on 127.0.0.1:$P-$((P + 3))"
head -c 18 /dev/urandom | base64 > "$WORK/password"
"$EDFS" cluster up --nodes 4 --replicas 2 --dir "$WORK/cluster" --base-port "$P" --user bench \
    --password-file "$WORK/password" > "$WORK/cluster.log" 2>&1 &
CLUSTER_PID=$!
for _ in $(seq 300); do grep -q "nodes up" "$WORK/cluster.log" && break; sleep 0.1; done
grep -q "nodes up" "$WORK/cluster.log" || { cat "$WORK/cluster.log"; exit 1; }
CONF=$WORK/cluster/dfc.conf
echo "KDFIterations: $KDF_ITERATIONS" >> "$CONF"
[ -n "${INLINE_LIMIT:-}" ] && echo "InlineLimit: $INLINE_LIMIT" >> "$CONF"
export EDFS_PASSWORD
EDFS_PASSWORD=$(cat "$WORK/password")
edfs_() { "$EDFS" "$@" --config "$CONF"; }

mkdir -p "$WORK/many"
if [ -n "${FILE_SIZE:-}" ]; then
  head -c "$((FILES * FILE_SIZE))" /dev/urandom | split -b "$FILE_SIZE" -a 6 -d - "$WORK/many/f"
else
  for i in $(seq "$FILES"); do printf '%s\n' "$i" > "$WORK/many/f$i"; done
fi
start=$(date +%s%N)
edfs_ put --quiet "$WORK/many" > /dev/null
end=$(date +%s%N)
ms=$(( (end - start) / 1000000 ))
echo "put of $FILES files: $ms ms ($(( FILES * 1000 / (ms > 0 ? ms : 1) )) files/s)"

time_ms() { local s e; s=$(date +%s%N); "$@" > /dev/null; e=$(date +%s%N); echo $(( (e - s) / 1000000 )); }
for kind in "ls many" "ls -l -R"; do
  runs=()
  for _ in 1 2 3; do runs+=("$(time_ms edfs_ $kind)"); done
  echo "$kind: ${runs[*]} ms (3 runs)"
done
count=$(edfs_ ls many | wc -l)
echo "ls many lists $count entries"
if [ -x /usr/bin/time ]; then
  /usr/bin/time -v -o "$WORK/time.txt" "$EDFS" ls -l -R --config "$CONF" > /dev/null
  echo "ls -l -R: client peak RSS $(awk -F': ' '/Maximum resident set size/ {print int($2 / 1024)}' "$WORK/time.txt") MiB"
fi
sleep 1
# Each node logs a line per connection: "connection from …: user bench, N requests, …"; the last is the last ls.
for log in "$WORK"/cluster/*.log; do
  [ -f "$log" ] || continue
  line=$(grep "user bench," "$log" | tail -1 || true)
  [ -n "$line" ] && echo "$(basename "$log" .log): last ls: ${line#*user bench, }"
done
