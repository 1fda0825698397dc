#!/usr/bin/env bash
# Runs every qrank test on a fresh Debian/Ubuntu machine: installs what the
# build and the tests need (only what is missing), builds with warnings as
# errors, then runs CTest. Extra arguments go to ctest (e.g. -R tokenizer).
#
# Full mode (CI=true, QRANK_HARDENING=1 or --full as the first argument) then
# also: runs the whole CTest suite again in an ASan+UBSan build
# (build-asan/), builds the libFuzzer targets and runs each for
# QRANK_FUZZ_SECONDS (default 60), and runs the load test (64 connections,
# QRANK_LOAD_SECONDS, default 60). Each stage prints its wall time.
set -euo pipefail
cd "$(dirname "$0")"

FULL=0
if [ "${1:-}" = "--full" ]; then FULL=1; shift; fi
if [ "${CI:-}" = "true" ] || [ "${QRANK_HARDENING:-}" = "1" ]; then FULL=1; fi

SUDO=""
if [ "$(id -u)" != 0 ]; then SUDO="sudo"; fi

need=()
for pkg in cmake gcc make pkg-config libpcre2-dev libutf8proc-dev libcjson-dev libmicrohttpd-dev \
           python3 python3-numpy chromium curl fonts-wqy-microhei valgrind; do
  dpkg -s "$pkg" >/dev/null 2>&1 || need+=("$pkg")
done
if [ $FULL = 1 ]; then # clang's libFuzzer and OpenMP for the fuzz targets
  for pkg in clang libomp-dev; do dpkg -s "$pkg" >/dev/null 2>&1 || need+=("$pkg"); done
  if [ ! -e /usr/lib/llvm-14/lib/clang/14.0.6/lib/linux/libclang_rt.fuzzer-x86_64.a ] &&
     apt-cache show libclang-rt-14-dev >/dev/null 2>&1; then
    dpkg -s libclang-rt-14-dev >/dev/null 2>&1 || need+=(libclang-rt-14-dev)
  fi
fi
command -v node >/dev/null 2>&1 || need+=(nodejs)
command -v npm >/dev/null 2>&1 || need+=(npm)
if [ ${#need[@]} -gt 0 ]; then
  echo "test.sh: installing ${need[*]}"
  $SUDO apt-get update -q
  DEBIAN_FRONTEND=noninteractive $SUDO apt-get install -y -q "${need[@]}"
fi

# npm packages of the script tests (golden tokenizer generator, API and browser tests)
for lock in tests/*/package-lock.json; do
  [ -e "$lock" ] || continue
  dir=$(dirname "$lock")
  stamp="$dir/node_modules/.qrank-lock"
  if [ ! -f "$stamp" ] || ! cmp -s "$lock" "$stamp"; then
    echo "test.sh: npm ci in $dir"
    (cd "$dir" && npm ci --no-audit --no-fund --loglevel=error)
    cp "$lock" "$stamp"
  fi
done

# ctest runs two tests at once on two cores: OpenMP threads that spin while
# idle would then steal each other's cores (measured up to 14x slower).
export OMP_WAIT_POLICY=${OMP_WAIT_POLICY:-passive}

BUILD=${QRANK_TEST_BUILD:-build-test}
ASAN_BUILD=${QRANK_ASAN_BUILD:-build-asan}

# Disk: the test models carry the real 151,669-token vocabulary, so a build
# dir's generated models take about 1.3 GB (measured: build-test 1.3 GB,
# build-asan 1.4 GB). A full disk otherwise shows up as a model generator's
# OSError deep in one test. What a build dir already holds counts as free.
need_mb=1700
[ $FULL = 1 ] && need_mb=1800 # the ASan stage runs after the release models are freed (below)
avail_mb=$(df -Pm . | awk 'NR == 2 { print $4 }')
dirs=("$BUILD"); [ $FULL = 0 ] || dirs+=("$ASAN_BUILD")
have_mb=$( (du -sm "${dirs[@]}" 2>/dev/null || true) | awk '{ s += $1 } END { print s + 0 }')
if [ $(( avail_mb + have_mb )) -lt $need_mb ]; then
  echo "test.sh: needs about $need_mb MB of disk in $(pwd); $avail_mb MB free" \
       "(+ $have_mb MB in existing build dirs)" >&2
  exit 1
fi

stage_start=$SECONDS
stage() { # name: prints how long the stage before it took
  echo "test.sh: [$(( SECONDS - stage_start )) s] $1"
  stage_start=$SECONDS
}
cmake -S . -B "$BUILD" -DCMAKE_BUILD_TYPE=Release -DQRANK_WERROR=ON >/dev/null
cmake --build "$BUILD" -j"$(nproc)"
(cd "$BUILD" && ctest --output-on-failure --timeout 900 -j2 "$@")
[ $FULL = 1 ] || exit 0
stage "release build and tests done"

# The release build's generated models are not needed again (the load test
# below uses tests/api/ only); a rerun makes them anew. Freeing them halves
# the run's peak disk use.
rm -rf "$BUILD/models" "$BUILD/reference-models" "$BUILD/cluster-models" "$BUILD/start-sh-models"

# The same suite with AddressSanitizer and UndefinedBehaviorSanitizer (leaks
# included: every qrank process a test starts must exit without one).
cmake -S . -B "$ASAN_BUILD" -DCMAKE_BUILD_TYPE=RelWithDebInfo -DQRANK_WERROR=ON -DQRANK_SANITIZE=ON >/dev/null
cmake --build "$ASAN_BUILD" -j"$(nproc)"
(cd "$ASAN_BUILD" &&
  ASAN_OPTIONS=detect_leaks=1:abort_on_error=0:${ASAN_OPTIONS:-} \
  UBSAN_OPTIONS=print_stacktrace=1:halt_on_error=1:${UBSAN_OPTIONS:-} \
  ctest --output-on-failure --timeout 1800 -j2 "$@")
stage "ASan+UBSan build and tests done"

fuzz/build.sh build-fuzz
fuzz/run.sh "${QRANK_FUZZ_SECONDS:-60}"
stage "fuzzing done"

B=$(cd "$BUILD" && pwd)
QRANK_BIN=$B/qrank QRANK_MODEL=$B/tests/api/reranker.gguf QRANK_EMBED_MODEL=$B/tests/api/embedder.gguf \
QRANK_BUILD_DIR=$B node tests/hardening/load.mjs --seconds "${QRANK_LOAD_SECONDS:-60}" --connections 64
stage "load test done"
