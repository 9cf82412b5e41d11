#!/usr/bin/env bash
# Runs one libFuzzer harness (fuzz/harness/Sources/fuzz-TARGET) for SECONDS seconds.
#
#   scripts/fuzz.sh TARGET SECONDS     fuzz TARGET; prints executions, exec/s and crashes
#   scripts/fuzz.sh seeds [TARGET...]  regenerate fuzz/corpus/TARGET from the library's writers
#   scripts/fuzz.sh replay TARGET      run TARGET once over its seeds, what the fuzzer added and
#                                      the crash files (no fuzzing): a quick regression check
#   scripts/fuzz.sh list               the targets
#
# The harnesses live in their own package (fuzz/harness/Package.swift), built with
# `swift build --sanitize=fuzzer` into fuzz/harness/.build only when a source is newer than the
# binary, so the root package's build and tests never need the fuzzer flag. Seeds come from
# fuzz/corpus/TARGET (committed, read only); what the fuzzer adds goes to fuzz/.work/TARGET,
# crashing inputs to fuzz/artifacts/TARGET/. After a crash the run goes on with the time left
# (at most 20 restarts), so one bug does not end a run. Replay an input with
#   fuzz/harness/.build/debug/fuzz-TARGET FILE
# Env: SWIFTB (build command, default swiftb), FUZZ_NICE (default 19), FUZZ_ARGS (more
# libFuzzer flags).
set -euo pipefail
root="$(cd "$(dirname "$0")/.." && pwd)"
cd "$root"
targets=(frame handshake delta checkpoint tensorfile safetensors csv model plan)
swiftb="${SWIFTB:-swiftb}"
bin_dir="$root/fuzz/harness/.build/debug"

usage() { sed -n '2,8p' "$0" | sed 's/^# \{0,1\}//' >&2; exit 2; }

build() {   # builds every harness, only when a Swift source or manifest is newer than the binaries
    local stamp="$bin_dir/fuzz-${targets[0]}"
    if [[ -x "$stamp" ]] && [[ -z "$(find Sources fuzz/harness/Sources Package.swift fuzz/harness/Package.swift -newer "$stamp" -name '*.swift' -print -quit)" ]]; then
        return
    fi
    echo "building fuzz harnesses (swift build --sanitize=fuzzer, fuzz/harness/.build)..." >&2
    "$swiftb" build --package-path fuzz/harness --sanitize=fuzzer >&2
}

known() { local t; for t in "${targets[@]}"; do [[ "$t" == "$1" ]] && return 0; done; echo "unknown target '$1' (targets: ${targets[*]})" >&2; exit 2; }

case "${1:-}" in
    list) printf '%s\n' "${targets[@]}"; exit 0 ;;
    seeds)
        shift
        build
        for t in "${@:-${targets[@]}}"; do
            known "$t"
            rm -rf "fuzz/corpus/$t"
            COHORT_FUZZ_WRITE_SEEDS="$root/fuzz/corpus/$t" "$bin_dir/fuzz-$t"
        done
        exit 0 ;;
    replay)
        known "${2:-}"
        build
        dirs=("fuzz/corpus/$2")
        for d in "fuzz/.work/$2" "fuzz/artifacts/$2"; do [[ -d "$d" ]] && dirs+=("$d"); done
        set +e
        out=$(SWIFT_BACKTRACE=enable=no COHORT_FUZZ_TMP="${COHORT_FUZZ_TMP:-/tmp}" "$bin_dir/fuzz-$2" -runs=0 "${dirs[@]}" 2>&1)
        status=$?
        set -e
        grep -E '^Done|ERROR|Fatal error|SUMMARY|Running: ' <<<"$out" | tail -5 || true
        exit "$status" ;;
    ""|-h|--help) usage ;;
esac

target="$1"; seconds="${2:-}"
known "$target"
[[ "$seconds" =~ ^[0-9]+$ ]] && (( seconds > 0 )) || usage
build

work="fuzz/.work/$target"; artifacts="fuzz/artifacts/$target"; logs="fuzz/.work/logs"
mkdir -p "$work" "$artifacts" "$logs"
export SWIFT_BACKTRACE=enable=no   # else Swift's crash handler takes the signal and libFuzzer writes no crash file
export COHORT_FUZZ_TMP="${COHORT_FUZZ_TMP:-/tmp}"

start=$(date +%s); executions=0; crashes=0; run=0
while :; do
    left=$(( seconds - ($(date +%s) - start) ))
    (( left > 0 && run <= 20 )) || break
    log="$logs/$target-$start-$run.log"
    set +e
    # shellcheck disable=SC2086
    nice -n "${FUZZ_NICE:-19}" "$bin_dir/fuzz-$target" "$work" "fuzz/corpus/$target" \
        -max_total_time="$left" -timeout=10 -rss_limit_mb=2048 -print_final_stats=1 \
        -artifact_prefix="$artifacts/" ${FUZZ_ARGS:-} >"$log" 2>&1
    status=$?
    set -e
    n=$(grep -o 'stat::number_of_executed_units: *[0-9]*' "$log" | grep -o '[0-9]*$' || true)
    if [[ -z "$n" ]]; then   # a crash ends the run before the final stats: take the last status line
        n=$(grep -oE '^#[0-9]+' "$log" | tail -1 | tr -d '#' || true)
    fi
    executions=$(( executions + ${n:-0} ))
    if (( status != 0 )); then
        crashes=$(( crashes + 1 ))
        echo "crash $crashes (exit $status): $(grep -m1 -E 'ERROR: libFuzzer|Fatal error|==ERROR' "$log" || echo 'see log'); $(grep -o "Test unit written to .*" "$log" || true); log $log" >&2
    fi
    (( status == 0 )) && break
    run=$(( run + 1 ))
done
elapsed=$(( $(date +%s) - start ))
rate=$(( executions / (elapsed > 0 ? elapsed : 1) ))
corpus=$(ls "$work" | wc -l)
echo "target=$target seconds=$elapsed executions=$executions exec_per_s=$rate crashes=$crashes corpus=$corpus artifacts=$artifacts"
