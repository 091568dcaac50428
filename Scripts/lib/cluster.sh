# Sourced (not run) by benchmark scripts: a local edfs cluster (`edfs cluster up`, TLS on 127.0.0.1) on free ports,
# its node processes, and its teardown. Scripts/load.sh keeps its own copy of this logic for now.
#
#   . Scripts/lib/cluster.sh
#   cluster_start EDFS DIR USER PASSWORD_FILE [NODES=4] [REPLICAS=2]   # sets CLUSTER_PID, CLUSTER_PORT, CLUSTER_CONF,
#                                                                       # CLUSTER_NODE_PIDS (array); returns 1 on failure
#   cluster_start_logged_in EDFS WORK USER [KDF_ITERATIONS]             # the same with a password, EDFS_PASSWORD and
#                                                                       # CLUSTER_ARGS (--config … --quiet)
#   cluster_stop                                                        # kills the cluster process and its nodes by pid
#   process_ticks PID...                                                # the CPU (user + system) the processes have
#                                                                       # used so far, in clock ticks (getconf CLK_TCK)
#   cluster_binary BINARY[@Key=value...]                                # sets EDFS (the binary's absolute path) and
#                                                                       # CLUSTER_NODE_SETTINGS ('Key: value' lines)
#
# environment: BASE_PORT (default: NODES consecutive free ports picked at random in 20000-60000)
#              CLUSTER_NODE_SETTINGS: 'Key: value' lines for the nodes' config, one a line (`cluster up --node-setting`)

CLUSTER_PID="" CLUSTER_PORT="" CLUSTER_CONF="" CLUSTER_NODE_PIDS=()

process_ticks() { local pid t=0 v; for pid in "$@"; do v=$(awk '{print $14 + $15}' "/proc/$pid/stat" 2>/dev/null || echo 0); t=$((t + v)); done; echo "$t"; }

cluster_port_free() { [ -z "$(ss -Htan "sport = :$1" 2>/dev/null)" ]; }

# Prints the first of COUNT consecutive free TCP ports (or BASE_PORT when set); returns 1 when none is found.
cluster_free_ports() { # COUNT
  local count=${1:-4} c i ok
  if [ -n "${BASE_PORT:-}" ]; then echo "$BASE_PORT"; return 0; fi
  for _ in $(seq 50); do
    c=$(( 20000 + (RANDOM * 32768 + RANDOM) % 40000 ))
    ok=1
    for ((i = 0; i < count; i++)); do cluster_port_free $((c + i)) || { ok=0; break; }; done
    [ "$ok" = 1 ] && { echo "$c"; return 0; }
  done
  return 1
}

cluster_start() { # EDFS DIR USER PASSWORD_FILE [NODES] [REPLICAS]
  local edfs=$1 dir=$2 user=$3 password_file=$4 nodes=${5:-4} replicas=${6:-2} status pid line settings=()
  CLUSTER_PORT=$(cluster_free_ports "$nodes") || { echo "cluster: found no $nodes free ports" >&2; return 1; }
  mkdir -p "$dir"
  while IFS= read -r line; do [ -n "$line" ] && settings+=(--node-setting "$line"); done <<< "${CLUSTER_NODE_SETTINGS:-}"
  "$edfs" cluster up --nodes "$nodes" --replicas "$replicas" --dir "$dir" --base-port "$CLUSTER_PORT" --user "$user" \
      --password-file "$password_file" "${settings[@]}" > "$dir.log" 2>&1 &
  CLUSTER_PID=$!
  for _ in $(seq 300); do grep -q "nodes up" "$dir.log" && break; sleep 0.1; done
  grep -q "nodes up" "$dir.log" || { cat "$dir.log" >&2; return 1; }
  CLUSTER_CONF=$dir/dfc.conf
  # The node processes: the `edfs node` children of the cluster process.
  CLUSTER_NODE_PIDS=()
  for status in /proc/[0-9]*/status; do
    pid=${status#/proc/}; pid=${pid%/status}
    [ "$(awk '/^PPid:/ {print $2}' "$status" 2>/dev/null)" = "$CLUSTER_PID" ] || continue
    tr '\0' ' ' < "/proc/$pid/cmdline" 2>/dev/null | grep -q " node " && CLUSTER_NODE_PIDS+=("$pid")
  done
  [ "${#CLUSTER_NODE_PIDS[@]}" -eq "$nodes" ] || {
    echo "cluster: expected $nodes node processes, found ${#CLUSTER_NODE_PIDS[@]}" >&2; return 1; }
}

# cluster_start with a random password (WORK/password), KDF_ITERATIONS in the config, EDFS_PASSWORD exported and
# CLUSTER_ARGS (--config CONF --quiet) for the commands; the cluster's folder is WORK/c.
cluster_start_logged_in() { # EDFS WORK USER [KDF_ITERATIONS=100000]
  head -c 18 /dev/urandom | base64 > "$2/password"
  cluster_start "$1" "$2/c" "$3" "$2/password" || return 1
  echo "KDFIterations: ${4:-100000}" >> "$CLUSTER_CONF"
  EDFS_PASSWORD=$(cat "$2/password")
  export EDFS_PASSWORD
  CLUSTER_ARGS=(--config "$CLUSTER_CONF" --quiet)
}

cluster_binary() { # BINARY[@Key=value...]: a benchmark's argument, a binary with node settings for its nodes
  EDFS=$(realpath "${1%%@*}")
  CLUSTER_NODE_SETTINGS=""
  [ "$1" = "${1#*@}" ] || CLUSTER_NODE_SETTINGS=$(tr '@' '\n' <<< "${1#*@}" | sed 's/=/: /')
}

cluster_stop() {
  local pid
  if [ -n "$CLUSTER_PID" ]; then kill "$CLUSTER_PID" 2>/dev/null || true; wait "$CLUSTER_PID" 2>/dev/null || true; fi
  for pid in "${CLUSTER_NODE_PIDS[@]}"; do kill "$pid" 2>/dev/null || true; done  # in case the cluster did not stop them
  CLUSTER_PID="" CLUSTER_NODE_PIDS=()
}

# cluster_workdir NAME [PARENT]: WORK = a new folder NAME.XXXXXX under PARENT (default $TMPDIR or /tmp), removed with
# the cluster (cluster_stop) when the script exits, also on Ctrl-C (130) and TERM (143).
cluster_workdir() {
  WORK=$(mktemp -d "${2:-${TMPDIR:-/tmp}}/$1.XXXXXX")
  cluster_cleanup() { local rc=$?; trap - EXIT INT TERM; cluster_stop; rm -rf "$WORK"; exit "$rc"; }
  trap cluster_cleanup EXIT
  trap 'exit 130' INT
  trap 'exit 143' TERM
}
