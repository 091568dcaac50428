#!/usr/bin/env bash
# Storage-node benchmark (issue 3): one client uploads and downloads one large object (default 1 GiB) to one
# `edfs node` on loopback TLS, with the node's data on this machine's disk; reports MB/s (10^6 bytes/s, as dd does)
# and the node's peak RSS. In the same run it measures the two ceilings:
#   - disk: dd of the same size with conv=fdatasync into the same folder;
#   - transport: a bare SwiftNIO + NIOSSL TLS 1.3 loopback transfer of the same size in 1 MiB writes.
# Usage: Scripts/bench-node.sh [SIZE]        (SIZE like 1G, 256M; BENCH_DIR=folder on the disk to test)
set -euo pipefail

SIZE="${1:-1G}"
RUNS="${RUNS:-3}"
ROOT="$(cd "$(dirname "$0")/.." && pwd)"
BASE="${BENCH_DIR:-/var/tmp}"
WORK="$(mktemp -d "$BASE/edfs-bench-node.XXXXXX")"
NODE_PID=""

cleanup() {
    if [[ -n "$NODE_PID" ]] && kill -0 "$NODE_PID" 2>/dev/null; then
        kill -TERM "$NODE_PID" 2>/dev/null || true
        wait "$NODE_PID" 2>/dev/null || true
    fi
    rm -rf "$WORK"
}
trap cleanup EXIT

bytes_of() {  # 1G → 1073741824
    local n="${1%[KkMmGg]}" unit="${1: -1}"
    case "$unit" in
        [Kk]) echo $((n << 10)) ;; [Mm]) echo $((n << 20)) ;; [Gg]) echo $((n << 30)) ;; *) echo "$1" ;;
    esac
}
BYTES="$(bytes_of "$SIZE")"
MIB=$((BYTES >> 20))

echo "== building edfs (release)"
(cd "$ROOT" && swift build -c release --product edfs 2>&1 | tail -1)
EDFS="$ROOT/.build/release/edfs"

echo "== machine: $(nproc) cores, $(uname -r); data folder $WORK on $(df --output=source,fstype "$WORK" | tail -1)"

# dd's rate in MB/s (it prints "… copied, 2.6 s, 407 MB/s" or "…, 1.7 GB/s").
dd_run() {
    local out rate
    out="$(dd if=/dev/zero of="$WORK/dd.bin" bs=1M count="$MIB" conv=fdatasync 2>&1 | tail -1)"
    rm -f "$WORK/dd.bin"
    rate="$(echo "$out" | awk -F', ' '{print $NF}')"
    echo "   $out" >&2
    case "$rate" in
        *" GB/s") echo "${rate% GB/s} * 1000 / 1" | bc ;;
        *" MB/s") echo "${rate% MB/s} / 1" | bc ;;
        *) echo 0 ;;
    esac
}

# On this VM the page cache is much slower the first time memory is touched (pages new to the host): the same dd
# gives ~400 MB/s "cold" and ~2 GB/s "warm". So dd runs before and after the node's uploads, and each side is
# reported best-of and as measured.
echo "== ceiling 1: dd ${MIB} MiB, conv=fdatasync, same folder (before the node runs)"
DD_BEFORE="$(dd_run)"

echo "== certificates and node config"
"$EDFS" certs init --dir "$WORK/Keys" --nodes BENCH1 --hosts 127.0.0.1 >/dev/null
PASSWORD="bench-$(od -An -N8 -tx1 /dev/urandom | tr -d ' \n')"
DIGEST="$(printf '%s' "$PASSWORD" | md5sum | cut -d' ' -f1)"
cat >"$WORK/dfs.conf" <<EOF
Keys: Keys
Server BENCH1 127.0.0.1:10001
Username: bench
Password: $DIGEST
EOF

echo "== ceiling 2: bare NIO + NIOSSL loopback, ${MIB} MiB in 1 MiB writes ($RUNS transfers in one process)"
TLS_OUT="$("$EDFS" node bench-tls --certificate-file "$WORK/Keys/BENCH1.crt" \
    --private-key-file "$WORK/Keys/BENCH1.key" --ca-file "$WORK/Keys/ca.crt" --size "$SIZE" --write 1M \
    --rounds "$RUNS")"
echo "$TLS_OUT" | sed 's/^/   /'
TLS_BEST="$(echo "$TLS_OUT" | sed 's/.*= \([0-9]*\) MB\/s.*/\1/' | sort -n | tail -1)"

echo "== node"
"$EDFS" node --config "$WORK/dfs.conf" --name BENCH1 --data "$WORK/data" --listen 127.0.0.1:0 \
    >"$WORK/node.out" 2>"$WORK/node.log" &
NODE_PID=$!
PORT=""
for _ in $(seq 1 500); do
    PORT="$(sed -n 's/^listening on 127\.0\.0\.1:\([0-9]*\)$/\1/p' "$WORK/node.out")"
    [[ -n "$PORT" ]] && break
    kill -0 "$NODE_PID" 2>/dev/null || { cat "$WORK/node.log"; exit 1; }
    sleep 0.02
done
[[ -n "$PORT" ]] || { echo "node did not start"; cat "$WORK/node.log"; exit 1; }
echo "   pid $NODE_PID listening on 127.0.0.1:$PORT; RSS after start: $(awk '/VmRSS/{print $2, $3}' /proc/$NODE_PID/status)"

echo "== client: upload then download ${MIB} MiB (one connection)"
CLIENT_OUT="$(EDFS_PASSWORD="$PASSWORD" "$EDFS" node bench-client --port "$PORT" --ca-file "$WORK/Keys/ca.crt" \
    --user bench --size "$SIZE" --uploads "$RUNS" --downloads "$RUNS")"
echo "$CLIENT_OUT" | sed 's/^/   /'
HWM="$(awk '/VmHWM/{print $2, $3}' /proc/$NODE_PID/status)"
echo "   node peak RSS (VmHWM): $HWM"
UPS="$(echo "$CLIENT_OUT" | sed -n 's/^upload.*= \([0-9]*\) MB\/s.*/\1/p' | tr '\n' ' ')"
UP_BEST="$(printf '%s\n' $UPS | sort -n | tail -1)"
DOWN_BEST="$(echo "$CLIENT_OUT" | sed -n 's/^download.*= \([0-9]*\) MB\/s.*/\1/p' | sort -n | tail -1)"

kill -TERM "$NODE_PID"
wait "$NODE_PID" && echo "== node stopped cleanly (SIGTERM)"
NODE_PID=""
echo "== ceiling 1 again: dd after the node ran"
DD_AFTER="$(dd_run)"
DD_BEST="$(printf '%s\n' "$DD_BEFORE" "$DD_AFTER" | sort -n | tail -1)"

echo "== summary"
echo "   dd fdatasync: $DD_BEFORE MB/s before, $DD_AFTER MB/s after; uploads: $UPS(MB/s)"
echo "   upload   $UP_BEST MB/s (best of $RUNS) vs dd $DD_BEST MB/s (best of 2): ratio $(echo "scale=2; $UP_BEST / $DD_BEST" | bc) (target >= 0.8)"
echo "   download $DOWN_BEST MB/s (best of $RUNS, cached) vs bare TLS $TLS_BEST MB/s (best of $RUNS): ratio $(echo "scale=2; $DOWN_BEST / $TLS_BEST" | bc) (target >= 0.6)"
echo "   node peak RSS $HWM (target < 128 MiB)"
