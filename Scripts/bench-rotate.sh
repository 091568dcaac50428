#!/usr/bin/env bash
# Key rotation timings (issue 5) on a local 4-node TLS cluster (R = 2), release build:
#   - `edfs key rotate` (metadata only) over FILES small files (default 1000);
#   - `edfs key rotate --reencrypt` over one SIZE_MIB file (default 1024), next to put and get of the same file.
#   Scripts/bench-rotate.sh [FILES=1000] [SIZE_MIB=1024]
set -euo pipefail
cd "$(dirname "$0")/.."
FILES=${1:-1000}
SIZE_MIB=${2:-1024}
Scripts/install-deps.sh
swift build -c release --product edfs >/dev/null
EDFS=$(swift build -c release --show-bin-path)/edfs
WORK=$(mktemp -d "${BENCH_DIR:-$PWD}/.bench-cluster.XXXXXX")
cleanup() { [ -n "${CLUSTER_PID:-}" ] && kill "$CLUSTER_PID" 2>/dev/null; wait 2>/dev/null; rm -rf "$WORK"; }
trap cleanup EXIT

start_cluster() { # dir
  "$EDFS" cluster up --dir "$1" --nodes 4 --replicas 2 --base-port "${BASE_PORT:-18001}" \
      --user bench --password-file "$WORK/password" > "$1.log" 2>&1 &
  CLUSTER_PID=$!
  for _ in $(seq 100); do grep -q "nodes up" "$1.log" 2>/dev/null && break; sleep 0.1; done
  grep -q "nodes up" "$1.log" || { cat "$1.log"; exit 1; }
}
seconds() { local t0 t1; t0=$(date +%s.%N); "$@" > /dev/null; t1=$(date +%s.%N); echo "$t1 - $t0" | bc; }

echo "machine: $(nproc) cores; data in $WORK"
echo "bench-password" > "$WORK/password"
export EDFS_PASSWORD=bench-password

echo "== $FILES small files: key rotate (re-wrap only)"
start_cluster "$WORK/small"
CONF="$WORK/small/dfc.conf"
mkdir -p "$WORK/files"
for i in $(seq "$FILES"); do head -c $((RANDOM % 8192 + 1)) /dev/urandom > "$WORK/files/f$i"; done
echo "put of $FILES files: $(seconds "$EDFS" put --quiet --config "$CONF" "$WORK/files") s"
echo "key rotate: $(seconds "$EDFS" key rotate --quiet --config "$CONF") s"
"$EDFS" key status --config "$CONF" | sed 's/^/  /'
kill "$CLUSTER_PID"; wait "$CLUSTER_PID" 2>/dev/null || true; CLUSTER_PID=

echo "== one $SIZE_MIB MiB file: put, get, key rotate --reencrypt"
start_cluster "$WORK/big"
CONF="$WORK/big/dfc.conf"
head -c "$((SIZE_MIB << 20))" /dev/urandom > "$WORK/in.bin"
put=$(seconds "$EDFS" put --quiet --config "$CONF" "$WORK/in.bin")
get=$(seconds "$EDFS" get --quiet --config "$CONF" in.bin -o "$WORK/out.bin")
rot=$(seconds "$EDFS" key rotate --reencrypt --quiet --config "$CONF")
"$EDFS" get --quiet --config "$CONF" in.bin -o "$WORK/out2.bin"
cmp -s "$WORK/in.bin" "$WORK/out2.bin" && same=byte-exact || same=MISMATCH
awk -v m="$SIZE_MIB" -v p="$put" -v g="$get" -v r="$rot" -v same="$same" 'BEGIN {
  b = m * 1048576
  printf "put %.2f s (%.0f MB/s); get %.2f s (%.0f MB/s); put+get %.2f s\n", p, b/p/1e6, g, b/g/1e6, p+g
  printf "key rotate --reencrypt %.2f s (%.0f MB/s of file data); ratio to put+get %.2f; after it: %s\n", r, b/r/1e6, r/(p+g), same }'
