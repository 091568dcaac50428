#!/usr/bin/env bash
# Two edfs clients' gets side by side on one local 4-node cluster (R = 2) in one run (issue 15, the get path): a get
# of SIZES MiB files to a file and to /dev/null, and `get -r` of FILES files of 4 KiB, each with wall time (MB/s or
# files/s), client task-clock and page faults (perf stat) and peak RSS (/usr/bin/time), plus `dd` buffered of the
# same bytes to a file on the same file system (the ceiling). The cluster's nodes run BEFORE.
#
#   Scripts/get-compare.sh BEFORE AFTER [SIZES="256 1024"] [FILES=1000] [ROUNDS=2]
#   environment: KDF_ITERATIONS=100000
set -euo pipefail
cd "$(dirname "$0")/.."
BEFORE=$(realpath "$1") AFTER=$(realpath "$2")
SIZES=${3:-256 1024} FILES=${4:-1000} ROUNDS=${5:-2}
KDF_ITERATIONS=${KDF_ITERATIONS:-100000}
. Scripts/lib/cluster.sh
cluster_workdir edfs-getcmp

cluster_start_logged_in "$BEFORE" "$WORK" bench "$KDF_ITERATIONS"
C=("${CLUSTER_ARGS[@]}")
for mib in $SIZES; do
  head -c $((mib << 20)) /dev/urandom > "$WORK/f$mib.bin"
  "$BEFORE" put "$WORK/f$mib.bin" --as "f$mib.bin" "${C[@]}" > /dev/null
done
mkdir -p "$WORK/tree/small"
for i in $(seq "$FILES"); do head -c 4096 /dev/urandom > "$WORK/tree/small/$i"; done
"$BEFORE" put "$WORK/tree/small" "${C[@]}" > /dev/null

# One measured command: prints "wall_s task_clock_ms faults peak_rss_kib".
measure() {
  local start end
  start=$(date +%s%N)
  perf stat -x, -o "$WORK/stat" -e task-clock,page-faults -- /usr/bin/time -o "$WORK/time" -f "%M" "$@" > /dev/null 2>&1
  end=$(date +%s%N)
  printf '%s %s %s %s\n' "$(awk "BEGIN {printf \"%.3f\", ($end - $start) / 1e9}")" \
    "$(awk -F, '/task-clock/ {printf "%.0f", $1}' "$WORK/stat")" \
    "$(awk -F, '/page-faults/ {print $1}' "$WORK/stat")" "$(tail -1 "$WORK/time")"
}

echo "load: $(cut -d' ' -f1-3 /proc/loadavg)"
printf '%-28s %-7s %9s %10s %9s %9s %9s\n' what client rate "cpu ms" faults "rss MiB" "wall s"
row() { # WHAT CLIENT UNITS UNIT_NAME MEASURE
  local what=$1 client=$2 units=$3 unit=$4 wall cpu faults rss
  read -r wall cpu faults rss <<< "$5"
  printf '%-28s %-7s %9s %10s %9s %9s %9s\n' "$what" "$client" \
    "$(awk "BEGIN {printf \"%.0f %s\", $units / $wall, \"$unit\"}")" "$cpu" "$faults" "$((rss / 1024))" "$wall"
}
for round in $(seq "$ROUNDS"); do
  order="before after"; [ $((round % 2)) = 0 ] && order="after before"  # neither always runs first
  for mib in $SIZES; do
    bytes=$((mib << 20))
    start=$(date +%s%N); dd if="$WORK/f$mib.bin" of="$WORK/dd.out" bs=1M 2> /dev/null; end=$(date +%s%N)
    rm -f "$WORK/dd.out"; sync
    printf '%-28s %-7s %9s\n' "dd buffered $mib MiB" - \
      "$(awk "BEGIN {printf \"%.0f MB/s\", $bytes / 1e6 / (($end - $start) / 1e9)}")"
    for client in $order; do
      bin=$BEFORE; [ "$client" = after ] && bin=$AFTER
      row "get $mib MiB to a file" "$client" "$bytes / 1e6" MB/s "$(measure "$bin" get "f$mib.bin" -o "$WORK/out" "${C[@]}")"
      # The written file's dirty pages would otherwise be flushed during the next command and charged to it.
      cmp "$WORK/f$mib.bin" "$WORK/out"; rm -f "$WORK/out"; sync
      row "get $mib MiB to /dev/null" "$client" "$bytes / 1e6" MB/s "$(measure "$bin" get "f$mib.bin" -o - "${C[@]}")"
    done
  done
  for client in $order; do
    bin=$BEFORE; [ "$client" = after ] && bin=$AFTER
    row "get -r $FILES x 4 KiB" "$client" "$FILES" files/s "$(measure "$bin" get -r small -o "$WORK/restored" "${C[@]}")"
    diff -r "$WORK/tree/small" "$WORK/restored/small"; rm -rf "$WORK/restored"; sync
  done
done
echo "load: $(cut -d' ' -f1-3 /proc/loadavg)"
