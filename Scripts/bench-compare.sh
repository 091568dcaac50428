#!/usr/bin/env bash
# edfs against restic, rclone crypt and gocryptfs on this machine (issue 15, item 5): the same files, the same run.
#   edfs      4 local nodes (TLS on 127.0.0.1, free ports), R = 2, release build; every command logs in (one PBKDF2
#             of KDF_ITERATIONS)
#   restic    a local repository (restic backup / restore / ls)
#   rclone    a crypt remote over a local folder (rclone copy / lsf)
#   gocryptfs a FUSE mount of a local cipher folder (cp / ls), unmounted and mounted again before every read, so the
#             kernel's cache of the plaintext view is cold (the cipher files, like every peer's stored bytes, are in
#             the page cache)
# for (a) a BIG_MIB file of random bytes: put/backup and get/restore; (b) SMALL_FILES random 4 KiB files: put of the
# folder and restore of the tree; (c) a listing of a folder of LIST_FILES files; plus the ceilings: dd with
# conv=fdatasync (and divided by R, edfs writing R copies to this one disk), dd buffered (what a get's output write
# can reach) and `edfs bench` (the parallel AES-256-GCM rate); for the small files, "file system alone": 4 ×
# SMALL_FILES new files written, fsynced and renamed by Scripts/lib/new-files-without-edfs.py (the files a small put
# makes on 4 nodes), right before edfs's put: a reference for the file system's state in that minute, not a floor
# (2 threads per node; edfs's nodes make more at once, and it is often faster). Puts are durable in every tool: edfs fsyncs on the nodes,
# restic fsyncs its files; rclone's copy and gocryptfs's cp are followed by an fsync of every file they wrote (`sync
# FILE…`, timed with them). Every restore is compared with the original (cmp, diff -r).
#
# One table: seconds, MB/s (10^6 bytes) or files/s, "edfs ÷ this" (each peer and ceiling against edfs's figure for
# the same operation), CPU seconds (user + system of the command, plus what the edfs nodes or the gocryptfs daemon
# spent meanwhile) and peak RSS (of the command from /usr/bin/time -v; for edfs also the largest node's and for
# gocryptfs the daemon's, from VmHWM after resetting it). A tool that is missing or fails gets a row saying so; the
# run goes on. A second table sets edfs's client and node CPU of the large put and gets against their crypto work
# (issue 15's CPU targets).
#
#   Scripts/bench-compare.sh [BIG_MIB=1024] [SMALL_FILES=1000] [LIST_FILES=10000]     short run: 64 200 1000
#   environment: TOOLS (a comma-separated subset of edfs,restic,rclone,gocryptfs; default all), EDFS (default .build/release/edfs, built when missing), KDF_ITERATIONS=100000, BENCH_DIR (parent
#                of the temporary folder, default $TMPDIR or /tmp: it must be on a real disk for the fsync figures),
#                BASE_PORT (default: free ports), CLUSTER_NODE_SETTINGS ('Key: value' lines for the edfs nodes' config,
#                e.g. 'DirectIO: yes')
# Installs restic, rclone, gocryptfs and time from Debian when missing and run as root. Everything it makes is in
# one temporary folder, removed on exit; the nodes and the gocryptfs daemon are stopped by pid; traffic is loopback.
set -euo pipefail
cd "$(dirname "$0")/.."
BIG_MIB=${1:-1024}
SMALL_FILES=${2:-1000}
LIST_FILES=${3:-10000}
KDF_ITERATIONS=${KDF_ITERATIONS:-100000}
case "$BIG_MIB$SMALL_FILES$LIST_FILES" in
  *[!0-9]*) echo "usage: Scripts/bench-compare.sh [BIG_MIB=1024] [SMALL_FILES=1000] [LIST_FILES=10000]" >&2; exit 64;;
esac
. Scripts/lib/cluster.sh
REPLICAS=2

# --- tools
# TOOLS=edfs,restic,… runs only those tools (default: all; the ceilings always run).
wanted() { [ -z "${TOOLS:-}" ] || [[ ",$TOOLS," == *",$1,"* ]]; }
APT_UPDATED=""
apt_install() { # package…
  [ "$(id -u)" = 0 ] || return 1
  if [ -z "$APT_UPDATED" ]; then apt-get update -qq > /dev/null 2>&1 || true; APT_UPDATED=1; fi
  DEBIAN_FRONTEND=noninteractive apt-get install -y -qq "$@" > /dev/null 2>&1
}
[ -x /usr/bin/time ] || apt_install time || { echo "bench-compare: /usr/bin/time is missing (apt-get install time)" >&2; exit 1; }
MISSING=()
for tool in restic rclone gocryptfs; do command -v "$tool" > /dev/null || MISSING+=("$tool"); done
[ "${#MISSING[@]}" -eq 0 ] || apt_install "${MISSING[@]}" || true
if [ -z "${EDFS:-}" ]; then
  EDFS=.build/release/edfs
  [ -x "$EDFS" ] || swift build -c release --product edfs > /dev/null
fi
EDFS=$(realpath "$EDFS")

# --- the temporary folder and its teardown
WORK=$(mktemp -d "${BENCH_DIR:-${TMPDIR:-/tmp}}/edfs-compare.XXXXXX")
GC_PID="" GC_MOUNT=""
# The gocryptfs mount (started by gc_mount, stopped by pid by gc_umount, also on exit).
gc_mount() {
  GC_MOUNT=$WORK/gc-plain
  mkdir -p "$GC_MOUNT"
  gocryptfs -fg -q -passfile "$PASSWORD_FILE" "$WORK/gc-cipher" "$GC_MOUNT" > "$WORK/gc.log" 2>&1 &
  GC_PID=$!
  for _ in $(seq 100); do mountpoint -q "$GC_MOUNT" && return 0; kill -0 "$GC_PID" 2>/dev/null || break; sleep 0.1; done
  GC_PID=""
  return 1
}
gc_umount() {
  [ -n "$GC_MOUNT" ] && mountpoint -q "$GC_MOUNT" 2> /dev/null && { fusermount -u "$GC_MOUNT" 2>/dev/null || fusermount -u -z "$GC_MOUNT" 2>/dev/null || true; }
  if [ -n "$GC_PID" ]; then
    for _ in $(seq 50); do kill -0 "$GC_PID" 2>/dev/null || break; sleep 0.1; done
    kill "$GC_PID" 2>/dev/null || true
    wait "$GC_PID" 2>/dev/null || true
  fi
  GC_PID=""
}
cleanup() {
  local rc=$?
  trap - EXIT INT TERM
  gc_umount || true
  cluster_stop
  rm -rf "$WORK"
  exit "$rc"
}
trap cleanup EXIT
trap 'exit 130' INT
trap 'exit 143' TERM

RESULTS=$WORK/results.tsv
: > "$RESULTS"
mkdir -p "$WORK/data" "$WORK/out"
# A row: operation, tool, seconds, amount, unit (MB/s or files/s), cpu seconds, rss, check. Amounts are bytes or files.
row() { printf '%s\t%s\t%s\t%s\t%s\t%s\t%s\t%s\n' "$@" >> "$RESULTS"; }
skip() { row "$1" "$2" - 0 - - - "$3"; echo "  $2: $3" >&2; }

# --- measuring: the command's wall time, CPU and peak RSS, plus the CPU and VmHWM of daemons (nodes, gocryptfs)
TICK=$(getconf CLK_TCK)
daemon_reset_hwm() { local pid; for pid in "$@"; do echo 5 > "/proc/$pid/clear_refs" 2>/dev/null || true; done; }
daemon_hwm_mib() { local pid m=0 v; for pid in "$@"; do v=$(awk '/^VmHWM:/ {print $2}' "/proc/$pid/status" 2>/dev/null || echo 0); [ "$v" -gt "$m" ] && m=$v; done; echo $((m / 1024)); }
# measure DAEMON_LABEL "PIDS" command…: sets M_SECS, M_CPU (command and daemons), M_CPU_COMMAND, M_CPU_DAEMONS, M_RSS
# (text); returns the command's status.
measure() {
  local label=$1 pids=$2 rc=0 t0 t1 w0 w1 secs user sys kib
  shift 2
  # shellcheck disable=SC2086
  daemon_reset_hwm $pids
  # shellcheck disable=SC2086
  t0=$(process_ticks $pids)
  w0=$(date +%s%N)
  /usr/bin/time -v -o "$WORK/time.txt" "$@" > "$WORK/cmd.out" 2> "$WORK/cmd.err" || rc=$?
  w1=$(date +%s%N)
  # shellcheck disable=SC2086
  t1=$(process_ticks $pids)
  secs=$(awk -v a="$w0" -v b="$w1" 'BEGIN { printf "%.4f", (b - a) / 1e9 }')  # time -v's own is in 10 ms steps
  user=$(awk -F': ' '/User time/ {print $2}' "$WORK/time.txt")
  sys=$(awk -F': ' '/System time/ {print $2}' "$WORK/time.txt")
  kib=$(awk -F': ' '/Maximum resident set size/ {print $2}' "$WORK/time.txt")
  M_SECS=${secs:-0}
  M_CPU=$(awk -v u="${user:-0}" -v s="${sys:-0}" -v d=$((t1 - t0)) -v k="$TICK" 'BEGIN { printf "%.2f", u + s + d / k }')
  M_CPU_COMMAND=$(awk -v u="${user:-0}" -v s="${sys:-0}" 'BEGIN { printf "%.2f", u + s }')
  M_CPU_DAEMONS=$(awk -v d=$((t1 - t0)) -v k="$TICK" 'BEGIN { printf "%.2f", d / k }')
  M_RSS="$(( ${kib:-0} / 1024 ))"
  # shellcheck disable=SC2086
  [ -n "$pids" ] && M_RSS+=" / $label $(daemon_hwm_mib $pids)"
  M_RSS+=" MiB"
  if [ "$rc" != 0 ]; then tail -3 "$WORK/cmd.err" | sed 's/^/    /' >&2; fi
  return "$rc"
}
# recycle_pages [MIB=BIG_MIB]: writes MIB of zeros through the page cache and deletes the file, right before each
# tool's large get/restore, and (R × BIG_MIB: what edfs's nodes write) before each tool's large put. On a virtual machine the first write of guest pages the host has not backed costs several times a
# write into pages a deleted file just gave back (PERFORMANCE.md: 264 MB/s against 3.6 GB/s for the same dd here), and
# the dd-buffered ceiling is measured right after dd fdatasync's file is deleted. Without this, each restore ran in
# whatever state the tool before it left (edfs first, after its put filled the page cache; rclone after edfs's and
# restic's data were deleted), so the order of the tools, not the tools, set the get column. The same holds for a
# put, whose writes (R copies on the edfs nodes) land in the page cache too (PERFORMANCE.md, "The large put's page-cache
# copy").
recycle_pages() { dd if=/dev/zero of="$WORK/recycle.bin" bs=1M count="${1:-$BIG_MIB}" status=none; rm -f "$WORK/recycle.bin"; }
# record OPERATION TOOL AMOUNT UNIT CHECK-COMMAND… : after a measure; CHECK decides "byte-exact" or "MISMATCH".
# A listing's check is its line count (list_count WANT PATTERN).
list_count() { local n; n=$(grep -c -- "$2" "$WORK/cmd.out" || true); CHECK_TEXT="$n entries"; [ "$n" -eq "$1" ]; }
record() {
  local op=$1 tool=$2 amount=$3 unit=$4 check
  shift 4
  CHECK_TEXT=byte-exact
  if [ "$#" -eq 0 ]; then check=-; elif "$@" > /dev/null 2>&1; then check=$CHECK_TEXT; else check="MISMATCH ${CHECK_TEXT#byte-exact}"; fi
  row "$op" "$tool" "$M_SECS" "$amount" "$unit" "$M_CPU" "$M_RSS" "$check"
}

# cpu_split KIND LABEL: after a measure of edfs's large put or get, keeps the client's and the nodes' CPU apart for
# the table of CPU against the crypto work (printed last).
CPU_SPLITS=$WORK/cpu-splits.tsv
cpu_split() { printf '%s\t%s\t%s\t%s\n' "$1" "$2" "$M_CPU_COMMAND" "$M_CPU_DAEMONS" >> "$CPU_SPLITS"; }

# --- the data
echo "bench-compare: BIG_MIB=$BIG_MIB SMALL_FILES=$SMALL_FILES LIST_FILES=$LIST_FILES; $(nproc) cores," \
     "$(awk '/MemTotal/ {printf "%.0f GiB", $2/1048576}' /proc/meminfo); work in $WORK ($(findmnt -n -o FSTYPE -T "$WORK"))"
echo "load average at start: $(cut -d' ' -f1-3 /proc/loadavg)"
BIG=$WORK/data/big.bin
head -c "$((BIG_MIB << 20))" /dev/urandom > "$BIG"
BIG_BYTES=$((BIG_MIB << 20))
mkdir -p "$WORK/data/small" "$WORK/data/list"
head -c "$((SMALL_FILES * 4096))" /dev/urandom | split -b 4096 -a 6 -d - "$WORK/data/small/f"
seq "$LIST_FILES" | split -l 1 -a 6 -d - "$WORK/data/list/f"
sync
PASSWORD_FILE=$WORK/password
head -c 18 /dev/urandom | base64 > "$PASSWORD_FILE"
# Operations sort by their first character, which the table drops.
OP_BIGPUT="1 ${BIG_MIB} MiB put/backup"
OP_BIGGET="2 ${BIG_MIB} MiB get/restore"
OP_SMALLPUT="3 ${SMALL_FILES} x 4 KiB put"
OP_SMALLGET="4 ${SMALL_FILES} x 4 KiB restore"
OP_LIST="5 ls of ${LIST_FILES} files"
OP_ONE="6 one 4 KiB put command"
ONE_RUNS=${ONE_RUNS:-11}

# --- ceilings
echo "== ceilings" >&2
recycle_pages "$BIG_MIB"  # the same page-cache state as every tool's put below
if measure "" "" dd if=/dev/zero of="$WORK/dd.bin" bs=1M count="$BIG_MIB" conv=fdatasync; then
  record "$OP_BIGPUT" "ceiling: dd fdatasync" "$BIG_BYTES" MB/s
  M_SECS=$(awk -v s="$M_SECS" -v r="$REPLICAS" 'BEGIN { print s * r }')
  record "$OP_BIGPUT" "ceiling: dd fdatasync / R" "$BIG_BYTES" MB/s
fi
rm -f "$WORK/dd.bin"
if measure "" "" dd if=/dev/zero of="$WORK/dd.bin" bs=1M count="$BIG_MIB"; then
  record "$OP_BIGGET" "ceiling: dd buffered" "$BIG_BYTES" MB/s
fi
rm -f "$WORK/dd.bin"
# edfs bench --json: parallelGBps (sealing, a put's crypto) and parallelOpenGBps (opening, a get's), 10^9 B/s.
bench_row() { # OPERATION KEY LABEL
  local gbps
  gbps=$(grep -o "\"$2\":[0-9.eE+-]*" "$WORK/bench.json" | cut -d: -f2)
  if [ -n "$gbps" ]; then
    M_SECS=$(awk -v g="$gbps" -v b="$BIG_BYTES" 'BEGIN { print b / (g * 1e9) }') M_CPU=- M_RSS=-
    record "$1" "ceiling: edfs bench, $3" "$BIG_BYTES" MB/s
  else skip "$1" "ceiling: edfs bench, $3" "no $2 in its --json output"; fi
}
if "$EDFS" bench --size "${BIG_MIB}M" --json > "$WORK/bench.json" 2> "$WORK/bench.err"; then
  bench_row "$OP_BIGPUT" parallelGBps "parallel seal"
  bench_row "$OP_BIGGET" parallelOpenGBps "parallel open"
else
  skip "$OP_BIGGET" "ceiling: edfs bench" "edfs bench failed: $(tail -1 "$WORK/bench.err")"
fi

# --- edfs
echo "== edfs" >&2
if ! wanted edfs; then :
elif cluster_start "$EDFS" "$WORK/edfs" bench "$PASSWORD_FILE" 4 "$REPLICAS"; then
  echo "KDFIterations: $KDF_ITERATIONS" >> "$CLUSTER_CONF"
  export EDFS_PASSWORD
  EDFS_PASSWORD=$(cat "$PASSWORD_FILE")
  NODES="${CLUSTER_NODE_PIDS[*]}"
  EO=(--config "$CLUSTER_CONF")
  QUIET=(--quiet)  # put and get have progress to silence; ls has none (and no --quiet)
  # The first put creates the user's keys; not measured.
  head -c 4096 /dev/urandom > "$WORK/warm.bin"
  "$EDFS" put "$WORK/warm.bin" --as warm "${EO[@]}" > /dev/null
  mkdir -p "$WORK/out/edfs"
  recycle_pages $((BIG_MIB * REPLICAS))
  if measure nodes "$NODES" "$EDFS" put "$BIG" --as big.bin "${EO[@]}" "${QUIET[@]}"; then record "$OP_BIGPUT" edfs "$BIG_BYTES" MB/s; cpu_split put "put"
  else skip "$OP_BIGPUT" edfs "put failed"; fi
  recycle_pages
  if measure nodes "$NODES" "$EDFS" get big.bin -o "$WORK/out/big.bin" "${EO[@]}" "${QUIET[@]}"; then
    record "$OP_BIGGET" edfs "$BIG_BYTES" MB/s cmp "$BIG" "$WORK/out/big.bin"; cpu_split get "get (first)"
  else skip "$OP_BIGGET" edfs "get failed"; fi
  rm -f "$WORK/out/big.bin"
  # Again, into the pages the first get's output just gave back (a second sample in the same state).
  if measure nodes "$NODES" "$EDFS" get big.bin -o "$WORK/out/big.bin" "${EO[@]}" "${QUIET[@]}"; then
    record "$OP_BIGGET" "edfs, second get" "$BIG_BYTES" MB/s cmp "$BIG" "$WORK/out/big.bin"; cpu_split get "get (second)"
  else skip "$OP_BIGGET" "edfs, second get" "get failed"; fi
  rm -f "$WORK/out/big.bin"
  # With --direct: the output written past the page cache (O_DIRECT), which the first write of fresh pages on a
  # virtual machine does not slow down (PERFORMANCE.md, "Writing the output past the page cache").
  if measure nodes "$NODES" "$EDFS" get big.bin -o "$WORK/out/big.bin" --direct "${EO[@]}" "${QUIET[@]}"; then
    record "$OP_BIGGET" "edfs --direct" "$BIG_BYTES" MB/s cmp "$BIG" "$WORK/out/big.bin"; cpu_split get "get --direct"
  else skip "$OP_BIGGET" "edfs --direct" "get failed"; fi
  rm -f "$WORK/out/big.bin"
  # The same get with no output file (what the client and nodes cost without the page-cache write), then dd buffered
  # again right after it, in the same memory state: on a virtual machine the first write of fresh pages can cost
  # several times the usual (PERFORMANCE.md), so the ceiling measured at the start may not hold for a later write.
  if measure nodes "$NODES" sh -c "'$EDFS' get big.bin -o - --config '$CLUSTER_CONF' --quiet > /dev/null"; then
    record "$OP_BIGGET" "edfs to /dev/null" "$BIG_BYTES" MB/s; cpu_split get "get to /dev/null"
  else skip "$OP_BIGGET" "edfs to /dev/null" "get failed"; fi
  if measure "" "" dd if=/dev/zero of="$WORK/dd.bin" bs=1M count="$BIG_MIB"; then
    record "$OP_BIGGET" "ceiling: dd buffered, after the edfs get" "$BIG_BYTES" MB/s
  fi
  rm -f "$WORK/dd.bin"
  # What the put asks of the file system alone, right before it and in the same state: each small file is one new
  # manifest file on each of the 4 nodes (PERFORMANCE.md, "The file system's part of a small-file put"). Its files
  # are removed only after edfs's put and restore, so that their deletion does not slow the inode allocation that put
  # needs (ext4 without a journal skips inodes freed in the last minutes, one by one). A reference, not a floor: it
  # runs 2 threads per node, edfs's nodes more.
  if measure "" "" python3 Scripts/lib/new-files-without-edfs.py "$WORK/new-files" 4 "$SMALL_FILES" 4300 2; then
    record "$OP_SMALLPUT" "file system alone (reference): 4 x $SMALL_FILES files" "$SMALL_FILES" files/s
  else skip "$OP_SMALLPUT" "file system alone (reference): 4 x $SMALL_FILES files" "python3 failed"; fi
  if measure nodes "$NODES" "$EDFS" put "$WORK/data/small" "${EO[@]}" "${QUIET[@]}"; then record "$OP_SMALLPUT" edfs "$SMALL_FILES" files/s
  else skip "$OP_SMALLPUT" edfs "put failed"; fi
  if measure nodes "$NODES" "$EDFS" get -r small -o "$WORK/out/edfs" "${EO[@]}" "${QUIET[@]}"; then
    record "$OP_SMALLGET" edfs "$SMALL_FILES" files/s diff -r "$WORK/data/small" "$WORK/out/edfs/small"
  else skip "$OP_SMALLGET" edfs "get -r failed"; fi
  rm -rf "$WORK/out/edfs" "$WORK/new-files"
  if "$EDFS" put "$WORK/data/list" "${EO[@]}" "${QUIET[@]}" > /dev/null 2> "$WORK/cmd.err"; then
    if measure nodes "$NODES" "$EDFS" ls list "${EO[@]}"; then
      record "$OP_LIST" edfs "$LIST_FILES" files/s list_count "$LIST_FILES" .
    else skip "$OP_LIST" edfs "ls failed"; fi
  else skip "$OP_LIST" edfs "put of the listing folder failed: $(tail -1 "$WORK/cmd.err")"; fi
  # One 4 KiB put as its own command, ONE_RUNS times (new names): the median and the slowest, against the
  # command's fixed floor, one PBKDF2 of the same parameters (OpenSSL through Python's hashlib) + 100 ms.
  # Each run's seconds, CPU (command and nodes) and peak RSS, one tab-separated line; the median row is the median
  # run's whole line, the slowest row the slowest run's.
  ONE_RUNS_DONE=$WORK/one-runs.tsv
  : > "$ONE_RUNS_DONE"
  for i in $(seq "$ONE_RUNS"); do
    if measure nodes "$NODES" "$EDFS" put "$WORK/warm.bin" --as "one-$i" "${EO[@]}" "${QUIET[@]}"; then
      printf '%s\t%s\t%s\t%s\n' "$M_SECS" "$M_CPU" "$M_RSS" "$M_CPU_COMMAND" >> "$ONE_RUNS_DONE"
    fi
  done
  if [ "$(wc -l < "$ONE_RUNS_DONE")" -eq "$ONE_RUNS" ]; then
    IFS=$'\t' read -r M_SECS M_CPU M_RSS ONE_CPU_COMMAND < <(sort -g -k1,1 "$ONE_RUNS_DONE" | sed -n "$(( (ONE_RUNS + 1) / 2 ))p")
    row "$OP_ONE" "edfs (median of $ONE_RUNS)" "$M_SECS" 1 files/s "$M_CPU" "$M_RSS" -
    IFS=$'\t' read -r M_SECS M_CPU M_RSS _ < <(sort -g -k1,1 "$ONE_RUNS_DONE" | tail -1)
    row "$OP_ONE" "edfs (slowest of $ONE_RUNS)" "$M_SECS" 1 files/s "$M_CPU" "$M_RSS" -
  else skip "$OP_ONE" edfs "a put failed"; fi
  KDF_SECS=$(python3 -c "import hashlib, time
t = time.perf_counter(); hashlib.pbkdf2_hmac('sha256', b'password', b'0123456789abcdef0123456789abcdef', $KDF_ITERATIONS, 32)
print('%.4f' % (time.perf_counter() - t))" 2> /dev/null || echo "")
  if [ -n "$KDF_SECS" ]; then
    row "$OP_ONE" "target: PBKDF2 ($KDF_ITERATIONS) + 100 ms" "$(awk -v k="$KDF_SECS" 'BEGIN { print k + 0.1 }')" 1 files/s - - -
    row "$OP_ONE" "ceiling: PBKDF2 ($KDF_ITERATIONS) alone" "$KDF_SECS" 1 files/s - - -
  fi
  cluster_stop
  rm -rf "$WORK/edfs"
else
  for op in "$OP_BIGPUT" "$OP_BIGGET" "$OP_SMALLPUT" "$OP_SMALLGET" "$OP_LIST"; do skip "$op" edfs "the cluster did not start"; done
fi

# --- restic
echo "== restic" >&2
if ! wanted restic; then :
elif command -v restic > /dev/null; then
  export RESTIC_REPOSITORY=$WORK/restic RESTIC_PASSWORD_FILE=$PASSWORD_FILE RESTIC_CACHE_DIR=$WORK/restic-cache
  restic_found() { find "$1" -name "$2" -print -quit; }  # restic restores under the path it backed up
  if restic init > /dev/null 2> "$WORK/cmd.err"; then
    recycle_pages $((BIG_MIB * REPLICAS))
    if measure "" "" restic backup --quiet --tag big "$BIG"; then
      record "$OP_BIGPUT" restic "$BIG_BYTES" MB/s
    else skip "$OP_BIGPUT" restic "backup failed"; fi
    recycle_pages
    if measure "" "" restic restore latest --tag big --target "$WORK/out/restic"; then
      record "$OP_BIGGET" restic "$BIG_BYTES" MB/s cmp "$BIG" "$(restic_found "$WORK/out/restic" big.bin)"
    else skip "$OP_BIGGET" restic "restore failed"; fi
    rm -rf "$WORK/out/restic"
    if measure "" "" restic backup --quiet --tag small "$WORK/data/small"; then
      record "$OP_SMALLPUT" restic "$SMALL_FILES" files/s
    else skip "$OP_SMALLPUT" restic "backup failed"; fi
    if measure "" "" restic restore latest --tag small --target "$WORK/out/restic"; then
      record "$OP_SMALLGET" restic "$SMALL_FILES" files/s diff -r "$WORK/data/small" "$(restic_found "$WORK/out/restic" small)"
    else skip "$OP_SMALLGET" restic "restore failed"; fi
    rm -rf "$WORK/out/restic"
    if restic backup --quiet --tag list "$WORK/data/list" > /dev/null 2> "$WORK/cmd.err"; then
      if measure "" "" restic ls latest --tag list; then
        record "$OP_LIST" restic "$LIST_FILES" files/s list_count "$LIST_FILES" '/f[0-9]*$'
      else skip "$OP_LIST" restic "ls failed"; fi
    else skip "$OP_LIST" restic "backup of the listing folder failed"; fi
  else
    for op in "$OP_BIGPUT" "$OP_BIGGET" "$OP_SMALLPUT" "$OP_SMALLGET" "$OP_LIST"; do skip "$op" restic "restic init failed: $(tail -1 "$WORK/cmd.err")"; done
  fi
  rm -rf "$WORK/restic" "$WORK/restic-cache"
else
  for op in "$OP_BIGPUT" "$OP_BIGGET" "$OP_SMALLPUT" "$OP_SMALLGET" "$OP_LIST"; do skip "$op" restic "not installed"; done
fi

# --- rclone crypt over a local folder (configured through the environment; no rclone.conf of the user is read)
echo "== rclone" >&2
if ! wanted rclone; then :
elif command -v rclone > /dev/null; then
  : > "$WORK/rclone.conf"
  export RCLONE_CONFIG=$WORK/rclone.conf RCLONE_CONFIG_BENCHCRYPT_TYPE=crypt RCLONE_CONFIG_BENCHCRYPT_REMOTE=$WORK/rclone-store
  RCLONE_CONFIG_BENCHCRYPT_PASSWORD=$(rclone obscure "$(cat "$PASSWORD_FILE")")
  export RCLONE_CONFIG_BENCHCRYPT_PASSWORD
  mkdir -p "$WORK/rclone-store"
  recycle_pages $((BIG_MIB * REPLICAS))
  if measure "" "" sh -c "rclone copy '$BIG' benchcrypt:big && find '$WORK/rclone-store' -type f -print0 | xargs -0 -r sync"; then
    record "$OP_BIGPUT" rclone-crypt "$BIG_BYTES" MB/s
  else skip "$OP_BIGPUT" rclone-crypt "copy failed"; fi
  recycle_pages
  if measure "" "" rclone copy benchcrypt:big "$WORK/out/rclone"; then
    record "$OP_BIGGET" rclone-crypt "$BIG_BYTES" MB/s cmp "$BIG" "$WORK/out/rclone/big.bin"
  else skip "$OP_BIGGET" rclone-crypt "copy failed"; fi
  rm -rf "$WORK/out/rclone"
  if measure "" "" sh -c "rclone copy '$WORK/data/small' benchcrypt:small && find '$WORK/rclone-store' -type f -newer '$WORK/rclone.conf' -print0 | xargs -0 -r sync"; then
    record "$OP_SMALLPUT" rclone-crypt "$SMALL_FILES" files/s
  else skip "$OP_SMALLPUT" rclone-crypt "copy failed"; fi
  if measure "" "" rclone copy benchcrypt:small "$WORK/out/rclone"; then
    record "$OP_SMALLGET" rclone-crypt "$SMALL_FILES" files/s diff -r "$WORK/data/small" "$WORK/out/rclone"
  else skip "$OP_SMALLGET" rclone-crypt "copy failed"; fi
  rm -rf "$WORK/out/rclone"
  if rclone copy "$WORK/data/list" benchcrypt:list 2> "$WORK/cmd.err"; then
    if measure "" "" rclone lsf benchcrypt:list; then
      record "$OP_LIST" rclone-crypt "$LIST_FILES" files/s list_count "$LIST_FILES" .
    else skip "$OP_LIST" rclone-crypt "lsf failed"; fi
  else skip "$OP_LIST" rclone-crypt "copy of the listing folder failed"; fi
  rm -rf "$WORK/rclone-store"
else
  for op in "$OP_BIGPUT" "$OP_BIGGET" "$OP_SMALLPUT" "$OP_SMALLGET" "$OP_LIST"; do skip "$op" rclone-crypt "not installed"; done
fi

# --- gocryptfs (FUSE)
echo "== gocryptfs" >&2
GC_WHY=""
if ! wanted gocryptfs; then GC_WHY="left out (TOOLS)"
elif ! command -v gocryptfs > /dev/null; then GC_WHY="not installed"
elif [ ! -c /dev/fuse ]; then GC_WHY="no /dev/fuse"
else
  mkdir -p "$WORK/gc-cipher"
  gocryptfs -init -q -passfile "$PASSWORD_FILE" "$WORK/gc-cipher" > /dev/null 2> "$WORK/cmd.err" || GC_WHY="gocryptfs -init failed: $(tail -1 "$WORK/cmd.err")"
  [ -n "$GC_WHY" ] || gc_mount || GC_WHY="mount failed: $(tail -1 "$WORK/gc.log")"
fi
if [ -z "$GC_WHY" ]; then
  P=$WORK/gc-plain
  recycle_pages $((BIG_MIB * REPLICAS))
  if measure daemon "$GC_PID" sh -c "cp '$BIG' '$P/big.bin' && sync '$P/big.bin'"; then record "$OP_BIGPUT" gocryptfs "$BIG_BYTES" MB/s
  else skip "$OP_BIGPUT" gocryptfs "cp failed"; fi
  gc_umount; gc_mount || true
  recycle_pages
  if measure daemon "$GC_PID" cp "$P/big.bin" "$WORK/out/gc-big.bin"; then
    record "$OP_BIGGET" gocryptfs "$BIG_BYTES" MB/s cmp "$BIG" "$WORK/out/gc-big.bin"
  else skip "$OP_BIGGET" gocryptfs "cp failed"; fi
  rm -f "$WORK/out/gc-big.bin"
  if measure daemon "$GC_PID" sh -c "cp -r '$WORK/data/small' '$P/small' && find '$P/small' -type f -print0 | xargs -0 -r sync"; then
    record "$OP_SMALLPUT" gocryptfs "$SMALL_FILES" files/s
  else skip "$OP_SMALLPUT" gocryptfs "cp -r failed"; fi
  gc_umount; gc_mount || true
  if measure daemon "$GC_PID" cp -r "$P/small" "$WORK/out/gc-small"; then
    record "$OP_SMALLGET" gocryptfs "$SMALL_FILES" files/s diff -r "$WORK/data/small" "$WORK/out/gc-small"
  else skip "$OP_SMALLGET" gocryptfs "cp -r failed"; fi
  rm -rf "$WORK/out/gc-small"
  if cp -r "$WORK/data/list" "$P/list"; then
    gc_umount; gc_mount || true
    if measure daemon "$GC_PID" ls "$P/list"; then
      record "$OP_LIST" gocryptfs "$LIST_FILES" files/s list_count "$LIST_FILES" .
    else skip "$OP_LIST" gocryptfs "ls failed"; fi
  else skip "$OP_LIST" gocryptfs "cp of the listing folder failed"; fi
  gc_umount
else
  for op in "$OP_BIGPUT" "$OP_BIGGET" "$OP_SMALLPUT" "$OP_SMALLGET" "$OP_LIST"; do skip "$op" gocryptfs "$GC_WHY"; done
fi

# --- the table
echo "load average at end: $(cut -d' ' -f1-3 /proc/loadavg)"
echo
sort -s -t$'\t' -k1,1 "$RESULTS" | awk -F'\t' '
  { ops[NR] = $1; tool[NR] = $2; secs[NR] = $3; amount[NR] = $4; unit[NR] = $5; cpu[NR] = $6; rss[NR] = $7; check[NR] = $8
    rate[NR] = ($3 != "-" && $3 > 0) ? ($5 == "MB/s" ? $4 / $3 / 1e6 : $4 / $3) : -1
    if ($2 == "edfs" && rate[NR] > 0) edfs[$1] = rate[NR] }
  END {
    fmt = "%-26s %-42s %8s %14s %10s %7s %-20s %s\n"
    printf fmt, "operation", "tool", "seconds", "rate", "edfs/this", "cpu s", "peak RSS", "check"
    for (i = 1; i <= NR; i++) {
      r = rate[i] > 0 ? sprintf("%.0f %s", rate[i], unit[i]) : "-"
      ratio = (rate[i] > 0 && (ops[i] in edfs) && tool[i] != "edfs") ? sprintf("%.2f", edfs[ops[i]] / rate[i]) : "-"
      printf fmt, substr(ops[i], 3), tool[i], secs[i] == "-" ? "-" : sprintf("%.3f", secs[i]), r, ratio, cpu[i], rss[i], check[i]
    }
  }'
echo
echo "rate: MB/s = 10^6 bytes/s; edfs/this > 1 means edfs is faster. cpu s: user + system of the command, plus the"
echo "nodes' (edfs) or the daemon's (gocryptfs) CPU meanwhile. peak RSS: the command / the largest edfs node or the"
echo "gocryptfs daemon (VmHWM). edfs logs in with KDFIterations $KDF_ITERATIONS per command; R = $REPLICAS on one disk."

# --- edfs's CPU against its crypto work (issue 15's two CPU targets), as the issue counts that work: one pass of
# AES-256-GCM per byte for each TLS end and for the segments' sealing or opening, at one core's OpenSSL rate measured
# above (edfs bench's ceilingSerialGBps; the issue's "~0.33 ns per byte for the TLS decryption"). A get's client does
# two passes (TLS decryption, GCM opening): target ≤ 2 × that. A put's nodes do one pass per stored byte (TLS
# decryption): target ≤ 3 × that. The put's client (sealing, then TLS encryption of R copies) has no target; shown.
OPENSSL_GBPS=$(grep -o '"ceilingSerialGBps":[0-9.eE+-]*' "$WORK/bench.json" 2>/dev/null | cut -d: -f2 || true)
if [ -s "$CPU_SPLITS" ] && [ -n "$OPENSSL_GBPS" ]; then
  echo
  printf "edfs's CPU against its crypto work, at one core's OpenSSL AES-256-GCM rate (%.2f GB/s, edfs bench):\n" "$OPENSSL_GBPS"
  awk -F'\t' -v g="$OPENSSL_GBPS" -v b="$BIG_BYTES" -v r="$REPLICAS" -v fixed="${ONE_CPU_COMMAND:-}" '
    function less_fixed(cpu, work) { return fixed == "" ? "-" : sprintf("%.2f", (cpu - fixed) / work) }
    BEGIN { fmt = "%-18s %11s %10s %-38s %8s %7s %13s %s\n"
            printf fmt, "transfer", "client cpu", "nodes cpu", "measured against", "work", "ratio", "ratio - fixed", "target" }
    $1 == "get" {
      work = 2 * b / (g * 1e9)
      printf fmt, $2, $3 " s", $4 " s", "client: TLS decryption + GCM opening", sprintf("%.2f s", work), sprintf("%.2f", $3 / work), less_fixed($3, work), "<= 2"
    }
    $1 == "put" {
      work = (1 + r) * b / (g * 1e9)
      printf fmt, $2, $3 " s", $4 " s", "client: GCM sealing + TLS of R copies", sprintf("%.2f s", work), sprintf("%.2f", $3 / work), less_fixed($3, work), "-"
      ns = $4 * 1e9 / (r * b); tls = 1 / g
      printf fmt, $2, "", sprintf("%.2f ns/B", ns), "nodes, per stored byte: TLS decryption", sprintf("%.2f ns", tls), sprintf("%.2f", ns / tls), "", "<= 3"
    }' "$CPU_SPLITS"
  [ -z "${ONE_CPU_COMMAND:-}" ] || echo "ratio - fixed: without a command's fixed client CPU (process start, login, one PBKDF2): ${ONE_CPU_COMMAND} s, the" \
    "median one-4-KiB put's; at small sizes the fixed cost is most of the client's CPU."
fi
