#!/usr/bin/env bash
# Runs every qrank test on a fresh Debian/Ubuntu machine: installs what the
# build and the tests need (only what is missing), builds with warnings as
# errors, then runs CTest. Extra arguments go to ctest (e.g. -R tokenizer).
set -euo pipefail
cd "$(dirname "$0")"

SUDO=""
if [ "$(id -u)" != 0 ]; then SUDO="sudo"; fi

need=()
for pkg in cmake gcc make pkg-config libpcre2-dev libutf8proc-dev libcjson-dev libmicrohttpd-dev \
           python3 python3-numpy chromium curl; do
  dpkg -s "$pkg" >/dev/null 2>&1 || need+=("$pkg")
done
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
cmake -S . -B "$BUILD" -DCMAKE_BUILD_TYPE=Release -DQRANK_WERROR=ON >/dev/null
cmake --build "$BUILD" -j"$(nproc)"
cd "$BUILD"
ctest --output-on-failure --timeout 900 -j2 "$@"
