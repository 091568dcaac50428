#!/usr/bin/env bash
# Listing at scale (issues 13 and 15): FILES tiny files in one folder on a local 4-node TLS cluster (R = 2), stored
# with one `put` (files/s), then `ls FOLDER` and `ls -l -R` timed three times each, and the requests each node served
# for one `ls` (from its connection log line): the listing must cost a few round trips per node, not one per file.
#
#   Scripts/listing-bench.sh [FILES=10000]
#   environment: EDFS (default .build/release/edfs, built when missing), KDF_ITERATIONS=100000, BENCH_DIR (parent
#                of the temporary folder, default $TMPDIR or /tmp), FILE_SIZE (bytes of random data per file instead
#                of its number: e.g. 4096, so each is an inline file whose bytes every listing carries), INLINE_LIMIT
#                (the client's InlineLimit; 0 = no inline files), BASE_PORT (the first of the 4 nodes' ports; default:
#                free ports picked at random)
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
. Scripts/lib/cluster.sh
cluster_workdir edfs-listing "${BENCH_DIR:-${TMPDIR:-/tmp}}"
head -c 18 /dev/urandom | base64 > "$WORK/password"
P=$(cluster_free_ports 4) || { echo "listing-bench: found no 4 free ports" >&2; exit 1; }
echo "listing-bench: $FILES files of ${FILE_SIZE:-a few} bytes, InlineLimit ${INLINE_LIMIT:-default}; edfs $EDFS; $(nproc) cores; cluster on 127.0.0.1:$P-$((P + 3))"
BASE_PORT=$P cluster_start "$EDFS" "$WORK/cluster" bench "$WORK/password" 4 2 || exit 1
CONF=$CLUSTER_CONF
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
