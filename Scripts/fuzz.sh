#!/usr/bin/env bash
# Builds the libFuzzer targets of Fuzz/ (every module instrumented: SwiftPM's --sanitize=fuzzer,address) and runs
# them: Scripts/fuzz.sh [TARGET|all] [SECONDS per target] (default: all, 60 s). Targets: FuzzWire FuzzConfig
# FuzzManifest FuzzKeyslot FuzzStripe FuzzSCRAM. Each run starts from the committed seeds in Fuzz/Corpus/<target>/
# (new inputs go to .build-fuzz/corpus/<target>/, never into the repository) and writes any crash, leak or timeout
# input to .build-fuzz/crashes/<target>/ (override with FUZZ_OUT). Exits non-zero if the build fails or any target
# found something. FUZZ_JOBS (default 1) targets run at once; FUZZ_NICE (default 10) is their nice level.
set -euo pipefail
cd "$(dirname "$0")/.."
ALL=(FuzzWire FuzzConfig FuzzManifest FuzzKeyslot FuzzStripe FuzzSCRAM)
which=${1:-all}
seconds=${2:-60}
jobs=${FUZZ_JOBS:-1}
nice=${FUZZ_NICE:-10}
out=${FUZZ_OUT:-$PWD/.build-fuzz/crashes}
if [[ $which == all ]]; then targets=("${ALL[@]}"); else targets=("$which"); fi
for t in "${targets[@]}"; do
    [[ " ${ALL[*]} " == *" $t "* ]] || { echo "fuzz.sh: unknown target $t (one of: ${ALL[*]} all)" >&2; exit 2; }
done

# --sanitize=fuzzer makes SwiftPM link libFuzzer's main (it then leaves the executables' entry point alone);
# -Xswiftc -sanitize=fuzzer,address instruments every module, the edfs libraries included, for coverage.
flags=(--sanitize=fuzzer --sanitize=address -Xswiftc -sanitize=fuzzer,address -Xswiftc -parse-as-library)
echo "fuzz.sh: building ${targets[*]} (debug, -sanitize=fuzzer,address) into .build-fuzz"
nice -n "$nice" swift build --package-path Fuzz -c debug --scratch-path .build-fuzz \
    "${flags[@]}" 2>&1 \
    | grep -v "Cannot export local symbol '__asan" || true
[[ ${PIPESTATUS[0]} -eq 0 ]] || { echo "fuzz.sh: build failed" >&2; exit 1; }
bin=$(swift build --package-path Fuzz -c debug --scratch-path .build-fuzz "${flags[@]}" --show-bin-path)

run() {
    local t=$1 crashes="$out/$1" corpus="$PWD/.build-fuzz/corpus/$1"
    mkdir -p "$crashes" "$corpus"
    # -rss_limit_mb and -malloc_limit_mb catch unbounded allocation; -timeout a decoder that loops.
    ASAN_OPTIONS=detect_leaks=1 nice -n "$nice" "$bin/$t" "$corpus" "Fuzz/Corpus/$t" \
        -max_total_time="$seconds" -timeout=10 -rss_limit_mb=2048 -malloc_limit_mb=1024 -max_len=8192 \
        -artifact_prefix="$crashes/" -print_final_stats=1 >"$out/$t.log" 2>&1
    local rc=$?
    local stats
    stats=$(grep -E '^#[0-9]+' "$out/$t.log" | tail -1 || true)
    echo "fuzz.sh: $t exit $rc: ${stats:-no stats}"
    return $rc
}

mkdir -p "$out"
failed=()
pids=() names=()
for t in "${targets[@]}"; do
    run "$t" & pids+=($!) names+=("$t")
    if (( ${#pids[@]} >= jobs )); then
        wait "${pids[0]}" || failed+=("${names[0]}")
        pids=("${pids[@]:1}") names=("${names[@]:1}")
    fi
done
for i in "${!pids[@]}"; do wait "${pids[$i]}" || failed+=("${names[$i]}"); done

if (( ${#failed[@]} )); then
    echo "fuzz.sh: FOUND PROBLEMS in ${failed[*]}: inputs in $out/<target>/, logs in $out/<target>.log" >&2
    for t in "${failed[@]}"; do grep -m3 -E 'ERROR|Fatal|SUMMARY|panic' "$out/$t.log" >&2 || true; done
    exit 1
fi
echo "fuzz.sh: no crashes in ${targets[*]} (${seconds} s each); logs in $out/"
