#!/usr/bin/env bash
# Reads through `edfs mount` against a local 4-node TLS cluster (R = 2, node data on this disk), release build:
#   - sequential read of a SIZE file through the mount (dd bs=1M to /dev/null), next to `edfs get -o -` of it;
#   - 4 KiB random preads per second through the mount (readahead off with POSIX_FADV_RANDOM, seeded offsets);
#   - `ls -l` of a folder of FILES files, in ms;
#   - the same sequential and random reads through gocryptfs and rclone crypt over a local folder, when
#     `apt-get install -y gocryptfs rclone` works (skipped with a message otherwise).
# Both sides read ciphertext that sits in the page cache (the nodes' objects, the local folder's files).
#
#   Scripts/mount-bench.sh [SIZE_MIB=1024] [FILES=10000] [RANDOM_READS=2000]
set -euo pipefail
cd "$(dirname "$0")/.."
SIZE_MIB=${1:-1024}
FILES=${2:-10000}
READS=${3:-2000}
Scripts/install-deps.sh
swift build -c release --product edfs >/dev/null
EDFS=$(swift build -c release --show-bin-path)/edfs
WORK=$(mktemp -d "${BENCH_DIR:-$PWD}/.mount-bench.XXXXXX")
MOUNTS=()
PIDS=()
cleanup() {
  for m in "${MOUNTS[@]}"; do mountpoint -q "$m" 2>/dev/null && fusermount3 -u -z "$m" 2>/dev/null; done
  for p in "${PIDS[@]}"; do kill "$p" 2>/dev/null || true; done
  wait 2>/dev/null || true
  rm -rf "$WORK"
}
trap cleanup EXIT

echo "machine: $(nproc) cores, $(awk '/MemTotal/ {printf "%.0f GiB", $2/1048576}' /proc/meminfo), $(uname -r); data in $WORK"
echo "bench-password" > "$WORK/password"
"$EDFS" cluster up --dir "$WORK/cluster" --nodes 4 --replicas 2 --base-port "${BASE_PORT:-17101}" \
    --user bench --password-file "$WORK/password" > "$WORK/cluster.log" 2>&1 &
PIDS+=($!)
for _ in $(seq 100); do grep -q "nodes up" "$WORK/cluster.log" && break; sleep 0.1; done
grep -q "nodes up" "$WORK/cluster.log" || { cat "$WORK/cluster.log"; exit 1; }
CONF="$WORK/cluster/dfc.conf"
export EDFS_PASSWORD=bench-password

now_ms() { date +%s%3N; }
mbps() { awk -v b="$1" -v ms="$2" 'BEGIN { printf "%.0f MB/s (%.2f s)", b/(ms/1000)/1e6, ms/1000 }'; }

# Sequential read of $1 with dd, MB/s.
sequential() {
  local start end
  start=$(now_ms)
  dd if="$1" of=/dev/null bs=1M status=none
  end=$(now_ms)
  mbps "$((SIZE_MIB << 20))" "$((end - start))"
}

# 4 KiB preads at seeded random offsets of $1, per second.
random_reads() {
  python3 - "$1" "$READS" <<'PY'
import os, random, sys, time
path, count = sys.argv[1], int(sys.argv[2])
fd = os.open(path, os.O_RDONLY)
size = os.fstat(fd).st_size
os.posix_fadvise(fd, 0, 0, os.POSIX_FADV_RANDOM)
rng = random.Random(13)
offsets = [rng.randrange(0, size - 4096) & ~4095 for _ in range(count)]
start = time.monotonic()
for offset in offsets:
    if len(os.pread(fd, 4096, offset)) != 4096:
        sys.exit("short read")
elapsed = time.monotonic() - start
print(f"{count / elapsed:.0f} reads/s ({count} reads, {elapsed * 1000 / count:.2f} ms each)")
PY
}

echo "== edfs: ${SIZE_MIB} MiB file"
head -c "$((SIZE_MIB << 20))" /dev/urandom > "$WORK/in.bin"
start=$(now_ms); "$EDFS" put --quiet --config "$CONF" "$WORK/in.bin" --as big.bin > /dev/null; end=$(now_ms)
echo "edfs put:                         $(mbps "$((SIZE_MIB << 20))" "$((end - start))") (includes login and one PBKDF2)"
start=$(now_ms); "$EDFS" get --quiet --config "$CONF" big.bin -o - > /dev/null; end=$(now_ms)
echo "edfs get -o - > /dev/null:        $(mbps "$((SIZE_MIB << 20))" "$((end - start))") (includes login and one PBKDF2)"

echo "== edfs: ${FILES} small files in one folder (edfs put of a folder)"
mkdir -p "$WORK/many"
for i in $(seq -w 1 "$FILES"); do printf 'file %s\n' "$i" > "$WORK/many/f$i.txt"; done
start=$(now_ms); (cd "$WORK" && "$EDFS" put --quiet --config "$CONF" many > /dev/null)  # stored as many/…; end=$(now_ms)
echo "put of ${FILES} files: $(( (end - start) / 1000 )) s"

mkdir -p "$WORK/mnt"
MOUNTS+=("$WORK/mnt")
start=$(now_ms)
"$EDFS" mount "$WORK/mnt" --config "$CONF" --spool "$WORK" > "$WORK/mount.log" 2>&1 &
MOUNT_PID=$!
PIDS+=($MOUNT_PID)
for _ in $(seq 600); do mountpoint -q "$WORK/mnt" && break; sleep 0.1; done
mountpoint -q "$WORK/mnt" || { cat "$WORK/mount.log"; exit 1; }
end=$(now_ms)
echo "mount up (login, PBKDF2, first listing of $((FILES + 1)) files): $((end - start)) ms"
echo "mount sequential (dd bs=1M):      $(sequential "$WORK/mnt/big.bin")"
start=$(now_ms); cp "$WORK/in.bin" "$WORK/mnt/copy.bin"; end=$(now_ms)
echo "mount write (cp in, spool + put on close): $(mbps "$((SIZE_MIB << 20))" "$((end - start))")"
echo "mount sequential again:           $(sequential "$WORK/mnt/big.bin")"
echo "mount 4 KiB random preads:        $(random_reads "$WORK/mnt/big.bin")"
cmp -s "$WORK/in.bin" "$WORK/mnt/big.bin" && echo "mount read is byte-exact" || echo "MISMATCH through the mount"
start=$(now_ms); ls -l "$WORK/mnt/many" > "$WORK/ls.txt"; end=$(now_ms)
echo "ls -l of ${FILES} files:           $((end - start)) ms ($(($(wc -l < "$WORK/ls.txt") - 1)) entries)"
start=$(now_ms); ls -l "$WORK/mnt/many" > /dev/null; end=$(now_ms)
echo "ls -l again:                      $((end - start)) ms"
kill -TERM "$MOUNT_PID"; wait "$MOUNT_PID" || true
mountpoint -q "$WORK/mnt" && echo "STILL MOUNTED after SIGTERM" || echo "unmounted on SIGTERM"

if command -v gocryptfs >/dev/null 2>&1 || apt-get install -y -qq gocryptfs >/dev/null 2>&1; then
  echo "== gocryptfs $(gocryptfs -version 2>/dev/null | head -1 | awk '{print $2}') over a local folder"
  mkdir -p "$WORK/gc.cipher" "$WORK/gc.plain"
  gocryptfs -init -q -passfile "$WORK/password" "$WORK/gc.cipher" > /dev/null
  gocryptfs -q -passfile "$WORK/password" "$WORK/gc.cipher" "$WORK/gc.plain"
  MOUNTS+=("$WORK/gc.plain")
  cp "$WORK/in.bin" "$WORK/gc.plain/big.bin"
  fusermount3 -u "$WORK/gc.plain"
  gocryptfs -q -passfile "$WORK/password" "$WORK/gc.cipher" "$WORK/gc.plain"   # fresh mount: plaintext not cached
  echo "gocryptfs sequential (dd bs=1M):  $(sequential "$WORK/gc.plain/big.bin")"
  echo "gocryptfs 4 KiB random preads:    $(random_reads "$WORK/gc.plain/big.bin")"
  fusermount3 -u "$WORK/gc.plain"
else
  echo "== gocryptfs: not installable here (apt-get install gocryptfs failed); skipped"
fi

if command -v rclone >/dev/null 2>&1 || apt-get install -y -qq rclone >/dev/null 2>&1; then
  echo "== rclone $(rclone version 2>/dev/null | head -1 | awk '{print $2}') crypt over a local folder (rclone mount)"
  mkdir -p "$WORK/rc.cipher" "$WORK/rc.plain"
  export RCLONE_CONFIG="$WORK/rclone.conf"
  : > "$RCLONE_CONFIG"
  export RCLONE_CONFIG_BENCHCRYPT_TYPE=crypt
  export RCLONE_CONFIG_BENCHCRYPT_REMOTE="$WORK/rc.cipher"
  RCLONE_CONFIG_BENCHCRYPT_PASSWORD=$(rclone obscure bench-password)
  export RCLONE_CONFIG_BENCHCRYPT_PASSWORD
  rclone copyto "$WORK/in.bin" benchcrypt:big.bin
  rclone mount benchcrypt: "$WORK/rc.plain" --read-only > "$WORK/rclone.log" 2>&1 &
  PIDS+=($!)
  MOUNTS+=("$WORK/rc.plain")
  for _ in $(seq 100); do mountpoint -q "$WORK/rc.plain" && break; sleep 0.1; done
  if mountpoint -q "$WORK/rc.plain"; then
    echo "rclone sequential (dd bs=1M):     $(sequential "$WORK/rc.plain/big.bin")"
    echo "rclone 4 KiB random preads:       $(random_reads "$WORK/rc.plain/big.bin")"
    fusermount3 -u "$WORK/rc.plain" || fusermount -u "$WORK/rc.plain" || true
  else
    echo "rclone mount did not come up; skipped: $(tail -2 "$WORK/rclone.log")"
  fi
else
  echo "== rclone: not installable here (apt-get install rclone failed); skipped"
fi
