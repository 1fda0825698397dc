#!/usr/bin/env bash
# fuzz/run.sh [SECONDS] [TARGET...] - runs the libFuzzer targets built by
# fuzz/build.sh, each for SECONDS (default $QRANK_FUZZ_SECONDS or 60), as many
# at once as there are cores. Each starts from its committed seeds
# (fuzz/corpus/TARGET) plus what earlier runs found (BUILD/fuzz/found/TARGET;
# the committed seeds are never written). A crash, leak, timeout or sanitizer
# report fails the run; the input that caused it is left in
# BUILD/fuzz/artifacts/ and the log in BUILD/fuzz/logs/.
# Environment: QRANK_FUZZ_BUILD (default build-fuzz), QRANK_FUZZ_JOBS (default nproc).
set -euo pipefail
cd "$(dirname "$0")/.."
SECONDS_EACH=${1:-${QRANK_FUZZ_SECONDS:-60}}
shift || true
BUILD=${QRANK_FUZZ_BUILD:-build-fuzz}
OUT="$BUILD/fuzz"
TARGETS=("$@")
[ ${#TARGETS[@]} -gt 0 ] || TARGETS=(fuzz_tokenizer fuzz_request fuzz_gguf fuzz_safetensors fuzz_hf_config)
JOBS=${QRANK_FUZZ_JOBS:-$(nproc)}
mkdir -p "$OUT/artifacts" "$OUT/logs"

run_one() {
  local t=$1
  local max_len=65536
  case "$t" in
    fuzz_tokenizer) max_len=4096 ;;  # long texts only make each run slower, not different
    fuzz_hf_config) max_len=8192 ;;
  esac
  mkdir -p "$OUT/found/$t"
  # -rss_limit_mb: a parser that allocates what a hostile length field asks for is a finding.
  if "$OUT/$t" "$OUT/found/$t" "fuzz/corpus/$t" -max_total_time="$SECONDS_EACH" \
       -max_len="$max_len" -timeout=10 -rss_limit_mb=2048 -malloc_limit_mb=1024 \
       -print_final_stats=1 -artifact_prefix="$OUT/artifacts/$t-" >"$OUT/logs/$t.log" 2>&1; then
    echo "fuzz: $t ok: $(grep -o 'stat::number_of_executed_units: *[0-9]*' "$OUT/logs/$t.log" | grep -o '[0-9]*$') runs in ${SECONDS_EACH}s, $(ls "$OUT/found/$t" | wc -l) found inputs"
  else
    echo "fuzz: $t FAILED (log: $OUT/logs/$t.log)"
    grep -E "ERROR|SUMMARY|runtime error|Test unit written" "$OUT/logs/$t.log" | head -8
    return 1
  fi
}
export -f run_one
export OUT SECONDS_EACH
printf '%s\n' "${TARGETS[@]}" | xargs -P "$JOBS" -I{} bash -c 'run_one {}'
