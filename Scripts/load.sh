#!/usr/bin/env bash
# Load test of a local 4-node TLS cluster (R = 2, `edfs cluster up`): CLIENTS concurrent client loops run mixed
# puts and gets for SECONDS. Each client puts files of random sizes 4 KiB – 8 MiB under its own names (each name
# once, so a copy never changes), gets its own files and other clients' files, and does some exactly-4 KiB puts and
# gets; every get is compared byte for byte (cmp) with the local copy its writer kept. Every operation's latency
# (date +%s%N before and after the edfs command, so one process start, login and PBKDF2 included) and size is
# recorded. At the end it prints operations by kind and result, the errors (must be 0), MB/s and ops/s, p50/p99
# latency of the 4 KiB puts and gets, and every node's VmRSS at the start, every 10 s and at the end.
#
#   Scripts/load.sh [SECONDS=60] [CLIENTS=16]
#   environment: EDFS (default .build/debug/edfs, built when missing), BASE_PORT (default: a free one from
#                20000-60000), KDF_ITERATIONS=100000 (the keyslot's PBKDF2 cost each command pays; the product default
#                is 600000), LOAD_DIR (parent of the temporary folder, default $TMPDIR or /tmp)
#
# Exit: 0 when every operation succeeded and every get was byte-exact, 1 otherwise.
set -euo pipefail
cd "$(dirname "$0")/.."
DURATION=${1:-60}
CLIENTS=${2:-16}
KDF_ITERATIONS=${KDF_ITERATIONS:-100000}
case "$DURATION$CLIENTS" in *[!0-9]*) echo "usage: Scripts/load.sh [SECONDS=60] [CLIENTS=16]" >&2; exit 64;; esac

if [ -z "${EDFS:-}" ]; then
  EDFS=.build/debug/edfs
  [ -x "$EDFS" ] || swift build --product edfs >/dev/null
fi
[ -x "$EDFS" ] || { echo "load: no edfs binary at $EDFS" >&2; exit 1; }
EDFS=$(realpath "$EDFS")

port_free() { [ -z "$(ss -Htan "sport = :$1" 2>/dev/null)" ]; }
if [ -n "${BASE_PORT:-}" ]; then
  P=$BASE_PORT
else
  P=""
  for _ in $(seq 50); do
    c=$(( 20000 + (RANDOM * 32768 + RANDOM) % 40000 ))
    if port_free "$c" && port_free $((c + 1)) && port_free $((c + 2)) && port_free $((c + 3)); then P=$c; break; fi
  done
  [ -n "$P" ] || { echo "load: found no 4 free ports" >&2; exit 1; }
fi

WORK=$(mktemp -d "${LOAD_DIR:-${TMPDIR:-/tmp}}/edfs-load.XXXXXX")
CLUSTER_PID="" SAMPLER_PID="" CLIENT_PIDS=() NODE_PIDS=()
cleanup() {
  local rc=$? pid
  trap - EXIT INT TERM
  for pid in "${CLIENT_PIDS[@]}" ${SAMPLER_PID:+"$SAMPLER_PID"}; do kill "$pid" 2>/dev/null || true; done
  for pid in "${CLIENT_PIDS[@]}" ${SAMPLER_PID:+"$SAMPLER_PID"}; do wait "$pid" 2>/dev/null || true; done
  if [ -n "$CLUSTER_PID" ]; then kill "$CLUSTER_PID" 2>/dev/null || true; wait "$CLUSTER_PID" 2>/dev/null || true; fi
  for pid in "${NODE_PIDS[@]}"; do kill "$pid" 2>/dev/null || true; done   # in case the cluster did not stop them
  rm -rf "$WORK"
  exit "$rc"
}
trap cleanup EXIT
trap 'exit 130' INT
trap 'exit 143' TERM

echo "load: $CLIENTS clients for $DURATION s; edfs $EDFS; $(nproc) cores; cluster on 127.0.0.1:$P-$((P + 3)); work in $WORK"
head -c 18 /dev/urandom | base64 > "$WORK/password"
"$EDFS" cluster up --nodes 4 --replicas 2 --dir "$WORK/cluster" --base-port "$P" --user load \
    --password-file "$WORK/password" > "$WORK/cluster.log" 2>&1 &
CLUSTER_PID=$!
for _ in $(seq 300); do grep -q "nodes up" "$WORK/cluster.log" && break; sleep 0.1; done
grep -q "nodes up" "$WORK/cluster.log" || { cat "$WORK/cluster.log"; exit 1; }
CONF=$WORK/cluster/dfc.conf
echo "KDFIterations: $KDF_ITERATIONS" >> "$CONF"

# The node processes: the `edfs node` children of the cluster process.
for status in /proc/[0-9]*/status; do
  pid=${status#/proc/}; pid=${pid%/status}
  [ "$(awk '/^PPid:/ {print $2}' "$status" 2>/dev/null)" = "$CLUSTER_PID" ] || continue
  tr '\0' ' ' < "/proc/$pid/cmdline" 2>/dev/null | grep -q " node " && NODE_PIDS+=("$pid")
done
[ "${#NODE_PIDS[@]}" -eq 4 ] || { echo "load: expected 4 node processes, found ${#NODE_PIDS[@]}" >&2; exit 1; }
node_name() { tr '\0' '\n' < "/proc/$1/cmdline" | awk 'prev == "--name" {print; exit} {prev = $0}'; }
rss_line() { # label
  local pid line="$1"
  for pid in "${NODE_PIDS[@]}"; do
    line+=$(awk -v n="$(node_name "$pid")" '/^VmRSS:/ {printf "  %s %5.1f MiB", n, $2/1024}' "/proc/$pid/status" 2>/dev/null || echo "  pid $pid gone")
  done
  echo "$line" >> "$WORK/rss.txt"
}

export EDFS_PASSWORD
EDFS_PASSWORD=$(cat "$WORK/password")
edfs_() { "$EDFS" "$@" --config "$CONF" --quiet; }
# One sequential put first: it creates the user's keys (only done when every node answers "none").
head -c 4096 /dev/urandom > "$WORK/warmup.bin"
edfs_ put "$WORK/warmup.bin" --as warmup > /dev/null 2> "$WORK/warmup.err" || { cat "$WORK/warmup.err"; exit 1; }
# The same, idle: what one 4 KiB put and get cost without load (the floor of the latencies below).
IDLE=""
for i in 1 2 3; do
  t0=$(date +%s%N); edfs_ put "$WORK/warmup.bin" --as "idle-$i" > /dev/null 2>> "$WORK/warmup.err"; t1=$(date +%s%N)
  edfs_ get "idle-$i" -o "$WORK/idle.out" --force 2>> "$WORK/warmup.err"; t2=$(date +%s%N)
  cmp -s "$WORK/warmup.bin" "$WORK/idle.out" || { echo "load: idle get of idle-$i not byte-exact" >&2; exit 1; }
  IDLE+=" put $(( (t1 - t0) / 1000000 )) get $(( (t2 - t1) / 1000000 )),"
done
echo "idle 4 KiB latencies (ms):${IDLE%,}"

mkdir -p "$WORK/src" "$WORK/out" "$WORK/ops" "$WORK/err"
: > "$WORK/index.all"; : > "$WORK/index.4k"

rand_size() { # 4 KiB – 8 MiB, spread evenly over the powers of two
  local e=$(( 12 + RANDOM % 11 )) s
  s=$(( (1 << e) + (RANDOM * 32768 + RANDOM) % (1 << e) ))
  if [ "$s" -gt $((8 << 20)) ]; then s=$((8 << 20)); fi
  echo "$s"
}

client_loop() { # client number
  local c=$1 n=0 r kind name size t0 t1 rc result log=$WORK/ops/$1.log err=$WORK/err/$1.log
  local own=() own4k=()
  while [ "$(date +%s)" -lt "$END" ]; do
    r=$(( RANDOM % 10 ))
    if [ ${#own4k[@]} -eq 0 ]; then r=0; fi
    case $r in
      0|1) kind=put4k; size=4096 ;;
      2|3) kind=get4k ;;
      4|5|6) kind=put; size=$(rand_size) ;;
      7|8) kind=get-own ;;
      9) kind=get-other ;;
    esac
    [ "$kind" = get-own ] && [ ${#own[@]} -eq 0 ] && kind=get4k
    case $kind in
      put4k|put)
        n=$((n + 1)); name=c$c-f$n
        head -c "$size" /dev/urandom > "$WORK/src/$name"
        t0=$(date +%s%N); rc=0
        edfs_ put "$WORK/src/$name" --as "$name" 2>> "$err" > /dev/null || rc=$?
        t1=$(date +%s%N)
        if [ "$rc" = 0 ]; then
          result=ok
          if [ "$kind" = put4k ]; then own4k+=("$name"); echo "$name" >> "$WORK/index.4k"
          else own+=("$name"); fi
          echo "$name" >> "$WORK/index.all"
        else result=fail-$rc; rm -f "$WORK/src/$name"; fi ;;
      get4k|get-own|get-other)
        case $kind in
          get4k) if [ $(( RANDOM % 2 )) = 0 ]; then name=${own4k[RANDOM % ${#own4k[@]}]}; else name=$(shuf -n 1 "$WORK/index.4k"); fi ;;
          get-own) name=${own[RANDOM % ${#own[@]}]} ;;
          get-other) name=$(shuf -n 1 "$WORK/index.all") ;;
        esac
        size=$(stat -c %s "$WORK/src/$name")
        t0=$(date +%s%N); rc=0
        edfs_ get "$name" -o "$WORK/out/$c" --force 2>> "$err" > /dev/null || rc=$?
        t1=$(date +%s%N)
        if [ "$rc" != 0 ]; then result=fail-$rc
        elif cmp -s "$WORK/src/$name" "$WORK/out/$c"; then result=ok
        else result=mismatch; echo "$name: MISMATCH" >> "$err"; fi
        rm -f "$WORK/out/$c" ;;
    esac
    echo "$kind $result $size $t0 $t1" >> "$log"
  done
}

rss_line "start     "
START_S=$(date +%s)
END=$(( START_S + DURATION ))
( set +e; next=$((START_S + 10))
  while true; do sleep 1; if [ "$(date +%s)" -ge "$next" ]; then rss_line "$(printf "%-10s" "+$((next - START_S))s")"; next=$((next + 10)); fi; done ) &
SAMPLER_PID=$!
for c in $(seq "$CLIENTS"); do client_loop "$c" & CLIENT_PIDS+=($!); done
for pid in "${CLIENT_PIDS[@]}"; do wait "$pid"; done
CLIENT_PIDS=()
kill "$SAMPLER_PID" 2>/dev/null || true; wait "$SAMPLER_PID" 2>/dev/null || true; SAMPLER_PID=""
rss_line "$(printf "%-10s" "end +$(( $(date +%s) - START_S ))s")"

cat "$WORK"/ops/*.log > "$WORK/all.log"
echo "== operations by kind and result"
awk '{ k[$1" "$2]++ } END { for (x in k) printf "  %-16s %6d\n", x, k[x] }' "$WORK/all.log" | sort
awk '
  { if ($4 < t0 || t0 == "") t0 = $4; if ($5 > t1) t1 = $5; n++ }
  $2 == "ok" { bytes += $3; ok++ }
  $2 != "ok" { bad++ }
  END {
    secs = (t1 - t0) / 1e9
    printf "== totals\n  %d operations in %.1f s (first start to last end): %d ok, %d errors\n", n, secs, ok, bad
    printf "  %.1f ops/s, %.2f MB/s (bytes of successful puts and gets, 10^6 B/s)\n", n / secs, bytes / secs / 1e6
  }' "$WORK/all.log"
echo "== latency (ms, one edfs process each: start, TLS logins, PBKDF2, transfer)"
for kind in put4k get4k put get-own get-other; do
  awk -v k="$kind" '$1 == k && $2 == "ok" { print ($5 - $4) / 1e6 }' "$WORK/all.log" | sort -n > "$WORK/lat.txt"
  awk -v k="$kind" '{ v[NR] = $1; s += $1 } END {
      if (NR == 0) { printf "  %-10s none\n", k; exit }
      i50 = int(NR * 0.50 + 0.999); i99 = int(NR * 0.99 + 0.999)
      printf "  %-10s n=%-5d p50 %7.0f  p99 %7.0f  mean %7.0f  max %7.0f\n", k, NR, v[i50], v[i99], s / NR, v[NR] }' "$WORK/lat.txt"
done
echo "== node VmRSS"
cat "$WORK/rss.txt"
ERRORS=$(awk '$2 != "ok"' "$WORK/all.log" | wc -l)
if [ "$ERRORS" -gt 0 ] || [ -n "$(cat "$WORK"/err/*.log 2>/dev/null | grep -v '^edfs: wrote ' | grep -v '^edfs: note: created' || true)" ]; then
  echo "== client messages (first 20 distinct)"
  cat "$WORK"/err/*.log | grep -v '^edfs: wrote ' | sort | uniq -c | sort -rn | head -20
fi
echo "errors: $ERRORS"
[ "$ERRORS" -eq 0 ]
