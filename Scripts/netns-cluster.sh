#!/usr/bin/env bash
# A 4-node edfs cluster (R = 2) on real network hosts: one Linux network namespace per node, one for the client,
# one holding the bridge that joins them through veth pairs, addresses from 198.18.0.0/15 only (198.18.X.1 the
# client, 198.18.X.11-14 the nodes, X from the script's PID). Nothing outside those namespaces is touched.
# It puts files (one BIG_MIB large), checks they read back byte-exact, then cuts one node's link
# (`ip link set down`) in the middle of a put and of a get and measures how long the client takes to give up on
# it and carry on, checks `edfs status` calls it unreachable, brings the link back, runs `edfs repair` and expects
# `edfs check` to exit 0; then the same with `tc netem loss 30% delay 200ms` on one node (or, where the kernel
# has no netem, a token-bucket throttle as a stand-in, said so in the output). A summary of every figure and
# exit code comes last. Everything it made (node processes, namespaces, veths, bridge, temp folder) is removed on
# exit, also on failure or Ctrl-C.
#
#   sudo Scripts/netns-cluster.sh            (as root; EDFS=path/to/edfs to use a given binary)
#   environment: EDFS (default .build/debug/edfs, built when missing), BIG_MIB=40, SLOW_MIB=8,
#                OP_TIMEOUT=600 (seconds any one client command may take), KEEP_LOGS=1 (print node logs at the end)
#
# Exit: 0 every step as expected; 1 some step was not; 77 skipped (not root, or no network namespaces).
set -euo pipefail
cd "$(dirname "$0")/.."

skip() { echo "netns-cluster: skipped: $*"; exit 77; }
[ "$(id -u)" -eq 0 ] || skip "needs root (it makes network namespaces)"
command -v ip >/dev/null 2>&1 || skip "no ip command (iproute2)"

if [ -z "${EDFS:-}" ]; then
  EDFS=.build/debug/edfs
  [ -x "$EDFS" ] || swift build --product edfs >/dev/null
fi
[ -x "$EDFS" ] || { echo "netns-cluster: no edfs binary at $EDFS" >&2; exit 1; }
EDFS=$(realpath "$EDFS")
BIG_MIB=${BIG_MIB:-40}
SLOW_MIB=${SLOW_MIB:-8}
OP_TIMEOUT=${OP_TIMEOUT:-600}

SUF=$$
X=$(( SUF % 250 + 2 ))            # third octet: 198.18.X.0/24
NET=198.18.$X
PORT=7001
BRNS=edfs-br-$SUF
CNS=edfs-c-$SUF
NODES=(DFS1 DFS2 DFS3 DFS4)
NS=() ADDR=()
for i in 1 2 3 4; do NS+=("edfs-n$i-$SUF"); ADDR+=("$NET.1$i"); done

CREATED_NS=() NODE_PIDS=() BG_PIDS=() WORK=""
cleanup() {
  local rc=$? pid ns
  trap - EXIT INT TERM
  for pid in "${BG_PIDS[@]}" "${NODE_PIDS[@]}"; do kill "$pid" 2>/dev/null || true; done
  for pid in "${BG_PIDS[@]}" "${NODE_PIDS[@]}"; do wait "$pid" 2>/dev/null || true; done
  if [[ " ${CREATED_NS[*]} " == *" $BRNS "* ]]; then
    for ns in c n1 n2 n3 n4; do ip -n "$BRNS" link del "v-$ns" 2>/dev/null || true; done
    ip -n "$BRNS" link del br0 2>/dev/null || true
  fi
  for ns in "${CREATED_NS[@]}"; do ip netns del "$ns" 2>/dev/null || echo "netns-cluster: could not delete namespace $ns" >&2; done
  [ -n "$WORK" ] && rm -rf "$WORK"
  exit "$rc"
}
trap cleanup EXIT
trap 'exit 130' INT
trap 'exit 143' TERM

# The first namespace tells whether namespaces work here at all.
ip netns add "$BRNS" 2>/dev/null || skip "ip netns add failed (no network namespaces here)"
CREATED_NS+=("$BRNS")
for ns in "$CNS" "${NS[@]}"; do ip netns add "$ns"; CREATED_NS+=("$ns"); done
WORK=$(mktemp -d "${TMPDIR:-/tmp}/edfs-netns.XXXXXX")

# ---- network: br0 in $BRNS; v-c/v-nI there, eth0 in each host namespace
ip -n "$BRNS" link add br0 type bridge
ip -n "$BRNS" link set br0 up
attach() { # short name, namespace, address
  ip -n "$BRNS" link add "v-$1" type veth peer name eth0 netns "$2"
  ip -n "$BRNS" link set "v-$1" master br0 up
  ip -n "$2" link set lo up
  ip -n "$2" addr add "$3/24" dev eth0
  ip -n "$2" link set eth0 up
}
attach c "$CNS" "$NET.1"
for i in 1 2 3 4; do attach "n$i" "${NS[i-1]}" "${ADDR[i-1]}"; done
echo "network: bridge in $BRNS, client $NET.1 in $CNS, nodes ${ADDR[*]} (port $PORT) in ${NS[*]}"

# ---- certificates, configs, nodes
PASSFILE=$WORK/password
head -c 18 /dev/urandom | base64 > "$PASSFILE"
hosts=$(IFS=,; echo "${ADDR[*]}")
"$EDFS" certs init --dir "$WORK/Keys" --nodes "$(IFS=,; echo "${NODES[*]}")" --hosts "$hosts" > "$WORK/certs.log"
USERLINES=$("$EDFS" user add netns --iterations 100000 --password-file "$PASSFILE")
{
  echo "# edfs netns cluster: node config (Scripts/netns-cluster.sh)"
  echo "Keys: Keys"
  for i in 0 1 2 3; do echo "Server ${NODES[i]} ${ADDR[i]}:$PORT"; done
  echo "$USERLINES"
} > "$WORK/dfs.conf"
chmod 600 "$WORK/dfs.conf"
{
  echo "# edfs netns cluster: client config (Scripts/netns-cluster.sh)"
  echo "Keys: Keys"
  echo "CA: Keys/ca.crt"
  for i in 0 1 2 3; do echo "Server ${NODES[i]} ${ADDR[i]}:$PORT"; done
  echo "Username: netns"
  echo "Replicas: 2"
  echo "WriteQuorum: 1"
  echo "KDFIterations: 100000"
} > "$WORK/dfc.conf"

for i in 0 1 2 3; do
  mkdir -p "$WORK/data/${NODES[i]}"
  ip netns exec "${NS[i]}" "$EDFS" node --config "$WORK/dfs.conf" --name "${NODES[i]}" --data "$WORK/data/${NODES[i]}" \
    > "$WORK/${NODES[i]}.log" 2>&1 &
  NODE_PIDS+=($!)
done
for i in 0 1 2 3; do
  for _ in $(seq 200); do grep -q "listening on" "$WORK/${NODES[i]}.log" && break; sleep 0.1; done
  grep -q "listening on" "$WORK/${NODES[i]}.log" || { echo "node ${NODES[i]} did not start:"; cat "$WORK/${NODES[i]}.log"; exit 1; }
done
echo "nodes: $(for i in 0 1 2 3; do printf '%s pid %s, ' "${NODES[i]}" "${NODE_PIDS[i]}"; done)all listening"

# ---- helpers
SUMMARY=() FAILED=0
note() { SUMMARY+=("$*"); echo "  $*"; }
expect() { # label, wanted rc, actual rc
  if [ "$2" = "$3" ]; then note "$1: exit $3 (expected $2)"; else note "$1: exit $3 (EXPECTED $2)  <-- FAIL"; FAILED=1; fi
}
now() { date +%s.%N; }
secs() { awk -v a="$1" -v b="$2" 'BEGIN { printf "%.2f", b - a }'; }
quiet_for() { case $1 in put|get|check|repair) echo --quiet ;; esac; } # only commands with progress take --quiet
client() { # edfs client command in the client namespace, bounded by OP_TIMEOUT
  timeout "$OP_TIMEOUT" ip netns exec "$CNS" "$EDFS" "$@" --config "$WORK/dfc.conf" --password-file "$PASSFILE" $(quiet_for "$1")
}
ERRS=$WORK/client-errors.log
run() { # label, edfs args...: runs the client, sets RC and T (seconds)
  local label=$1 t0; shift
  t0=$(now); RC=0
  client "$@" > "$WORK/out.txt" 2>> "$ERRS" || RC=$?
  T=$(secs "$t0" "$(now)")
  echo "  $label: $T s, exit $RC"
}
bytes_of() { ip netns exec "$1" cat "/sys/class/net/eth0/statistics/$2_bytes"; }
link_down() { ip -n "$BRNS" link set "v-$1" down; }
link_up() { ip -n "$BRNS" link set "v-$1" up; }
# Runs a client command in the background and cuts node IDX (1-4) off once it has moved MIN bytes in
# direction DIR (rx: it is receiving a put, tx: it is serving a get); sets RC, T (whole command), TCUT (cut to end).
cut_during() { # label, idx, dir, edfs args...
  local label=$1 idx=$2 dir=$3 t0 tc base pid cut=no; shift 3
  base=$(bytes_of "${NS[idx-1]}" "$dir")
  t0=$(now); RC=0
  timeout "$OP_TIMEOUT" ip netns exec "$CNS" "$EDFS" "$@" --config "$WORK/dfc.conf" --password-file "$PASSFILE" $(quiet_for "$1") \
    > "$WORK/out.txt" 2>> "$ERRS" &
  pid=$!; BG_PIDS=("$pid")
  while kill -0 "$pid" 2>/dev/null; do
    if [ $(( $(bytes_of "${NS[idx-1]}" "$dir") - base )) -ge $((2 << 20)) ]; then link_down "n$idx"; cut=yes; break; fi
    sleep 0.05
  done
  tc=$(now)
  wait "$pid" || RC=$?
  BG_PIDS=()
  T=$(secs "$t0" "$(now)"); TCUT=$(secs "$tc" "$(now)")
  [ "$cut" = yes ] || { echo "  $label: finished before ${NODES[idx-1]} had moved 2 MiB: no cut made"; FAILED=1; }
  echo "  $label: ${NODES[idx-1]} cut $(secs "$t0" "$tc") s after the start; finished $TCUT s after the cut, $T s in all, exit $RC"
}
status_line() { grep -E "^$1 " "$WORK/out.txt" | head -1 || true; }
same() { cmp -s "$1" "$2" && echo byte-exact || echo MISMATCH; }
verify() { # label, original, copy
  local s; s=$(same "$2" "$3")
  [ "$s" = byte-exact ] || FAILED=1
  note "$1: $s"
}

# ---- 1: baseline
echo "== 1. baseline: put and get, all nodes up"
head -c 4096 /dev/urandom > "$WORK/small.bin"
head -c $((1 << 20)) /dev/urandom > "$WORK/one.bin"
head -c $((BIG_MIB << 20)) /dev/urandom > "$WORK/big.bin"
head -c $((BIG_MIB << 20)) /dev/urandom > "$WORK/big2.bin"
head -c $((SLOW_MIB << 20)) /dev/urandom > "$WORK/slow.bin"
mkdir -p "$WORK/got"
run "put 4 KiB" put "$WORK/small.bin" --as small; expect "baseline put 4 KiB" 0 "$RC"
run "put 1 MiB" put "$WORK/one.bin" --as one; expect "baseline put 1 MiB" 0 "$RC"
run "put $BIG_MIB MiB" put "$WORK/big.bin" --as big; expect "baseline put $BIG_MIB MiB" 0 "$RC"; note "baseline put $BIG_MIB MiB: $T s"
BASE_PUT=$T
for f in small one big; do
  run "get $f" get "$f" -o "$WORK/got/$f"; expect "baseline get $f" 0 "$RC"
  [ "$f" = big ] && { note "baseline get $BIG_MIB MiB: $T s"; BASE_GET=$T; }
  verify "baseline get $f" "$WORK/$f.bin" "$WORK/got/$f"
done
run "status" status; expect "baseline status (healthy)" 0 "$RC"; note "baseline status: $T s"
run "check" check; expect "baseline check" 0 "$RC"

# ---- 2: link down during a put
echo "== 2. DFS2's link cut in the middle of a put of $BIG_MIB MiB"
cut_during "put $BIG_MIB MiB" 2 rx put "$WORK/big2.bin" --as big2
expect "put with DFS2 cut mid-transfer" 0 "$RC"
note "put with DFS2 cut: $T s in all, $TCUT s after the cut (baseline put $BASE_PUT s)"
run "status, DFS2 down" status
expect "status with DFS2 down (degraded)" 3 "$RC"
note "status with DFS2 down: $T s; $(status_line DFS2)"
grep -q "^DFS2 .*unreachable" "$WORK/out.txt" || { note "status does not call DFS2 unreachable  <-- FAIL"; FAILED=1; }
run "get big2, DFS2 down" get big2 -o "$WORK/got/big2"; expect "get big2 with DFS2 down" 0 "$RC"
note "get $BIG_MIB MiB with DFS2 down from the start: $T s (baseline get $BASE_GET s)"
verify "get big2 with DFS2 down" "$WORK/big2.bin" "$WORK/got/big2"
run "check, DFS2 down" check; note "check with DFS2 down: exit $RC, $T s (3 or 69 expected: DFS2 misses replicas)"
link_up n2
sleep 1
run "repair" repair; expect "repair after DFS2 back" 0 "$RC"; note "repair after DFS2 back: $T s"
run "check" check; expect "check after repair" 0 "$RC"
run "status" status; expect "status after DFS2 back (healthy)" 0 "$RC"

# ---- 3: link down during a get
echo "== 3. DFS3's link cut in the middle of a get of $BIG_MIB MiB"
rm -f "$WORK/got/big"
cut_during "get $BIG_MIB MiB" 3 tx get big -o "$WORK/got/big"
expect "get with DFS3 cut mid-transfer" 0 "$RC"
note "get with DFS3 cut: $T s in all, $TCUT s after the cut (baseline get $BASE_GET s)"
verify "get with DFS3 cut" "$WORK/big.bin" "$WORK/got/big"
run "status, DFS3 down" status
expect "status with DFS3 down (degraded)" 3 "$RC"
note "status with DFS3 down: $T s; $(status_line DFS3)"
grep -q "^DFS3 .*unreachable" "$WORK/out.txt" || { note "status does not call DFS3 unreachable  <-- FAIL"; FAILED=1; }
run "put 1 MiB, DFS3 down" put "$WORK/one.bin" --as one-b; expect "put 1 MiB with DFS3 down" 0 "$RC"
note "put 1 MiB with DFS3 down from the start: $T s"
link_up n3
sleep 1
run "repair" repair; expect "repair after DFS3 back" 0 "$RC"; note "repair after DFS3 back: $T s"
run "check" check; expect "check after repair" 0 "$RC"

# ---- 4: a lossy, slow link instead of a cut
echo "== 4. DFS4 on a bad link"
SHAPE="netem loss 30% delay 200ms"
if ip netns exec "${NS[3]}" tc qdisc add dev eth0 root netem loss 30% delay 200ms 2> "$WORK/tc.err"; then
  ip netns exec "$BRNS" tc qdisc add dev v-n4 root netem loss 30% delay 200ms
else
  echo "  tc netem refused: $(head -1 "$WORK/tc.err") -- this kernel has no sch_netem;"
  echo "  stand-in: tbf rate 2mbit burst 8kb latency 200ms both ways (a slow link with tail drops, not random loss)"
  SHAPE="tbf rate 2mbit burst 8kb latency 200ms (netem unavailable)"
  ip netns exec "${NS[3]}" tc qdisc add dev eth0 root tbf rate 2mbit burst 8kb latency 200ms
  ip netns exec "$BRNS" tc qdisc add dev v-n4 root tbf rate 2mbit burst 8kb latency 200ms
fi
note "DFS4 shaping: $SHAPE"
run "put $SLOW_MIB MiB, DFS4 shaped" put "$WORK/slow.bin" --as slow; expect "put $SLOW_MIB MiB with DFS4 shaped" 0 "$RC"
note "put $SLOW_MIB MiB with DFS4 shaped: $T s"
run "get $SLOW_MIB MiB, DFS4 shaped" get slow -o "$WORK/got/slow"; expect "get $SLOW_MIB MiB with DFS4 shaped" 0 "$RC"
note "get $SLOW_MIB MiB with DFS4 shaped: $T s"
verify "get slow with DFS4 shaped" "$WORK/slow.bin" "$WORK/got/slow"
run "get $BIG_MIB MiB, DFS4 shaped" get big -o "$WORK/got/big" --force; expect "get $BIG_MIB MiB with DFS4 shaped" 0 "$RC"
note "get $BIG_MIB MiB with DFS4 shaped: $T s (baseline $BASE_GET s)"
verify "get big with DFS4 shaped" "$WORK/big.bin" "$WORK/got/big"
run "status, DFS4 shaped" status; note "status with DFS4 shaped: exit $RC, $T s; $(status_line DFS4)"
ip netns exec "${NS[3]}" tc qdisc del dev eth0 root
ip netns exec "$BRNS" tc qdisc del dev v-n4 root
run "repair" repair; expect "repair after DFS4 unshaped" 0 "$RC"
run "check" check; expect "final check" 0 "$RC"

echo "== summary (edfs $EDFS; client errors below)"
printf '%s\n' "${SUMMARY[@]}"
if [ -s "$ERRS" ]; then echo "-- client stderr lines:"; sort "$ERRS" | uniq -c | sed 's/^/  /'; fi
if [ "${KEEP_LOGS:-0}" = 1 ]; then for n in "${NODES[@]}"; do echo "-- $n.log"; tail -20 "$WORK/$n.log"; done; fi
if [ "$FAILED" = 0 ]; then echo "result: every step as expected"; else echo "result: SOME STEPS FAILED (marked FAIL above)"; fi
exit "$FAILED"
