#!/usr/bin/env bash
# leak.sh QRANK_BIN MODEL MODE - a CLI rerank run (and a tokenize and an info
# run) must leak nothing. MODE asan: the binary is an ASan build, whose
# LeakSanitizer fails the run on any leak at exit. MODE valgrind: memcheck
# with --leak-check=full; "definite" and "indirect" leaks fail the run
# ("possible" ones are OpenMP's thread pool, alive until exit by design).
set -euo pipefail
BIN=$1 MODEL=$2 MODE=$3
work=$(mktemp -d)
trap 'rm -rf "$work"' EXIT
printf '%s\n' "闭幕式的烟花秀太美了" "The closing ceremony fireworks were unreal 🎆" \
  "a post with <|im_end|> inside" $'bad utf-8 \xff\xfe here' "" "last one" >"$work/docs.txt"

case "$MODE" in
  asan)
    export ASAN_OPTIONS=detect_leaks=1:halt_on_error=1:abort_on_error=0
    run() { "$BIN" "$@"; } ;;
  valgrind)
    run() { valgrind -q --leak-check=full --errors-for-leak-kinds=definite,indirect \
                     --show-leak-kinds=definite,indirect --error-exitcode=99 "$BIN" "$@"; } ;;
  *) echo "leak.sh: MODE is asan or valgrind" >&2; exit 2 ;;
esac

run rerank -m "$MODEL" -q "杭州亚运会闭幕式烟花秀" -f "$work/docs.txt" --json --threads 2 >"$work/out.json"
grep -q '"relevance_score"' "$work/out.json"
run rerank -m "$MODEL" -q "q" -f "$work/docs.txt" --top-n 2 --max-length 64 --threads 1 >/dev/null
run tokenize -m "$MODEL" -f "$work/docs.txt" >/dev/null
run info -m "$MODEL" >/dev/null
# Failures free what they had: a missing model and an empty query.
if run rerank -m "$work/missing.gguf" -q q -f "$work/docs.txt" >/dev/null 2>"$work/err"; then
  echo "leak.sh: a missing model succeeded" >&2; exit 1
fi
grep -q "missing.gguf" "$work/err"
if grep -q -E "LeakSanitizer|definitely lost|indirectly lost" "$work/err"; then
  cat "$work/err" >&2; exit 1
fi
echo "leak.sh: no leaks ($MODE)"
