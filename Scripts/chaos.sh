#!/usr/bin/env bash
# The full fault campaign of issue 12 (Tests/EDFSClientTests/FaultCampaignTests.swift at length): on local clusters of
# real `edfs node` processes (4 nodes R=2, then 5 nodes R=3), 3 concurrent clients put (0 B … MAX_MIB), overwrite, get and
# remove files from a pool of 6 names while a chaos loop SIGKILLs and restarts nodes (never more than R-1 down), flips
# bytes in, truncates and deletes replicas on disk (never two faults on one stripe), and once wipes a node's data folder;
# then repair --read-data, check --read-data and keyless GC. Prints the ledger's counts per layout and fails on any wrong
# byte, removed file returned, lost file, unhealthy file after repair, or orphans above 5% of the live data.
#
#   Scripts/chaos.sh [SECONDS_PER_LAYOUT=300] [MAX_MIB=32] [SEED]
set -euo pipefail
cd "$(dirname "$0")/.."
Scripts/install-deps.sh
export EDFS_CAMPAIGN_SECONDS=${1:-300}
export EDFS_CAMPAIGN_MAX_BYTES=$(( ${2:-32} << 20 ))
[ -n "${3:-}" ] && export EDFS_CAMPAIGN_SEED=$3
echo "machine: $(nproc) cores; ${EDFS_CAMPAIGN_SECONDS} s per layout, files up to ${2:-32} MiB"
swift build --build-tests >/dev/null
log=$(mktemp "${TMPDIR:-/tmp}/edfs-chaos.XXXXXX.log")
status=0
swift test --skip-build --filter FaultCampaignTests > "$log" 2>&1 || status=$?
grep -E "^campaign|✘|✔ Test|Test run|Fatal error" "$log" || true
echo "swift test exit $status; full log: $log"
exit "$status"
