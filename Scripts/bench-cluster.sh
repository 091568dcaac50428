#!/usr/bin/env bash
# Client throughput against a local 4-node TLS cluster (R = 2), release build, node data on this disk.
# Measures in one run: the fdatasync ceiling (dd of SIZE to the same filesystem), the crypto ceiling
# (edfs bench), put and get of a SIZE file of random bytes (get with the objects in the page cache), the
# client's peak RSS, and each node's peak RSS. Optionally a second, larger file for the client's memory bound.
#
#   Scripts/bench-cluster.sh [SIZE_MIB=1024] [BIG_MIB=0]      e.g.  Scripts/bench-cluster.sh 1024 4096
set -euo pipefail
cd "$(dirname "$0")/.."
SIZE_MIB=${1:-1024}
BIG_MIB=${2:-0}
Scripts/install-deps.sh
command -v /usr/bin/time >/dev/null || { apt-get install -y -qq time >/dev/null; }
swift build -c release --product edfs >/dev/null
EDFS=$(swift build -c release --show-bin-path)/edfs
WORK=$(mktemp -d "${BENCH_DIR:-$PWD}/.bench-cluster.XXXXXX")
cleanup() { [ -n "${CLUSTER_PID:-}" ] && kill "$CLUSTER_PID" 2>/dev/null; wait 2>/dev/null; rm -rf "$WORK"; }
trap cleanup EXIT

echo "machine: $(nproc) cores, $(awk '/MemTotal/ {printf "%.0f GiB", $2/1048576}' /proc/meminfo); data in $WORK"
echo "== ceilings"
dd if=/dev/zero of="$WORK/dd.bin" bs=1M count="$SIZE_MIB" conv=fdatasync 2>&1 | tail -1 | sed 's/^/dd fdatasync: /'
rm -f "$WORK/dd.bin"
dd if=/dev/zero of="$WORK/dd.bin" bs=1M count="$SIZE_MIB" 2>&1 | tail -1 | sed 's/^/dd buffered (no sync; the ceiling of writing a get'"'"'s output): /'
rm -f "$WORK/dd.bin"
"$EDFS" bench --size "${SIZE_MIB}M" | sed 's/^/  /'

echo "== cluster"
echo "bench-password" > "$WORK/password"
"$EDFS" cluster up --dir "$WORK/cluster" --nodes 4 --replicas 2 --base-port "${BASE_PORT:-17001}" \
    --user bench --password-file "$WORK/password" > "$WORK/cluster.log" 2>&1 &
CLUSTER_PID=$!
for _ in $(seq 100); do grep -q "nodes up" "$WORK/cluster.log" && break; sleep 0.1; done
grep -q "nodes up" "$WORK/cluster.log" || { cat "$WORK/cluster.log"; exit 1; }
CONF="$WORK/cluster/dfc.conf"
export EDFS_PASSWORD=bench-password

run_timed() { # label, command...: prints seconds and peak RSS of the command
  local label=$1; shift
  /usr/bin/time -f "%e %M" -o "$WORK/time.txt" "$@" > /dev/null 2> "$WORK/err.txt" || { cat "$WORK/err.txt"; exit 1; }
  read -r secs kib < "$WORK/time.txt"
  echo "$label $secs $kib"
}

measure() { # size in MiB
  local mib=$1
  head -c "$((mib << 20))" /dev/urandom > "$WORK/in.bin"
  sync
  read -r _ put_s put_kib <<< "$(run_timed put "$EDFS" put --quiet --config "$CONF" "$WORK/in.bin" --as "file-$mib")"
  read -r _ get_s get_kib <<< "$(run_timed get "$EDFS" get --quiet --config "$CONF" "file-$mib" -o "$WORK/out.bin")"
  cmp -s "$WORK/in.bin" "$WORK/out.bin" && same=byte-exact || same=MISMATCH
  # The same get to stdout into /dev/null: the part of the time that is writing the output file.
  /usr/bin/time -f "%e %M" -o "$WORK/time.txt" sh -c "'$EDFS' get --quiet --config '$CONF' 'file-$mib' -o - > /dev/null"
  read -r null_s null_kib < "$WORK/time.txt"
  awk -v m="$mib" -v s="$null_s" -v k="$null_kib" 'BEGIN { printf "%d MiB: get to /dev/null %.2f s = %.0f MB/s (client peak RSS %.0f MiB)\n", m, s, m*1048576/s/1e6, k/1024 }'
  awk -v m="$mib" -v ps="$put_s" -v pk="$put_kib" -v gs="$get_s" -v gk="$get_kib" -v same="$same" 'BEGIN {
    printf "%d MiB: put %.2f s = %.0f MB/s (client peak RSS %.0f MiB); get %.2f s = %.0f MB/s (client peak RSS %.0f MiB); %s\n",
      m, ps, m*1048576/ps/1e6, pk/1024, gs, m*1048576/gs/1e6, gk/1024, same }'
  rm -f "$WORK/in.bin" "$WORK/out.bin"
}

echo "== put / get (includes one PBKDF2 per command)"
measure "$SIZE_MIB"
[ "$BIG_MIB" -gt 0 ] && measure "$BIG_MIB"
echo "== node peak RSS"
for pid in $(pgrep -f "edfs node --config $WORK/cluster/dfs.conf"); do
  awk -v p="$pid" '/VmHWM/ {printf "node pid %s: %.0f MiB\n", p, $2/1024}' "/proc/$pid/status"
done
