#!/usr/bin/env bash
# fuzz/build.sh [BUILD_DIR] - builds the libFuzzer targets (default BUILD_DIR:
# build-fuzz/) with clang, AddressSanitizer and UndefinedBehaviorSanitizer.
#
# Every library file is compiled here with clang and -fsanitize=fuzzer-no-link
# (coverage for the fuzzer) and the per-ISA flags CMakeLists.txt gives the
# kernel files. One exception: src/kernels/dispatch.c asks the CPU with
# __builtin_cpu_supports feature names that clang 14 does not know, so it is
# compiled by gcc without sanitizers; it only reads CPUID, nothing a fuzzer
# reaches. Needs clang, libomp-dev and the project's -dev packages.
set -euo pipefail
cd "$(dirname "$0")/.."
ROOT=$PWD
BUILD=${1:-build-fuzz}
OUT="$BUILD/fuzz"
mkdir -p "$OUT/obj"
JOBS=$(nproc)

SAN="-fsanitize=address,undefined -fno-sanitize-recover=undefined -fno-omit-frame-pointer"
COMMON="-std=c11 -D_GNU_SOURCE -O1 -g -fopenmp -Iinclude -Isrc -Iserver $(pkg-config --cflags libpcre2-8 libutf8proc libcjson)"
LIBS="$(pkg-config --libs libpcre2-8 libutf8proc libcjson) -fopenmp -lm -lpthread"
AVX512="-mavx512f -mavx512bw -mavx512vl -mavx512dq -mavx512vnni -mavx512bf16 -mfma -mf16c -mavx2"
AVX2="-mavx2 -mfma -mf16c -mavxvnni"

compile() { # source object
  local src=$1 obj=$2 isa=""
  case "$src" in
    *kernels/dispatch.c) gcc $COMMON -O2 -c "$src" -o "$obj"; return ;;
    *avx512*.c) isa=$AVX512 ;;
    *avx2*.c) isa=$AVX2 ;;
  esac
  # shellcheck disable=SC2086
  clang $COMMON $SAN -fsanitize=fuzzer-no-link $isa -w -c "$src" -o "$obj"
}
export -f compile
export COMMON SAN AVX512 AVX2

# The library, as one archive (only what a target uses is linked in).
objs=()
stale=()
# server/ without serve.c (the command's main) and http.c (libmicrohttpd glue).
server_srcs=$(ls server/*.c | grep -v -e '/serve\.c$' -e '/http\.c$')
for src in src/*.c src/kernels/*.c $server_srcs; do
  obj="$OUT/obj/$(echo "$src" | tr / _).o"
  objs+=("$obj")
  if [ ! -f "$obj" ] || [ "$src" -nt "$obj" ] || [ -n "$(find src server -name '*.h' -newer "$obj" | head -1)" ]; then
    stale+=("$src" "$obj")
  fi
done
if [ ${#stale[@]} -gt 0 ]; then
  printf '%s\n' "${stale[@]}" | xargs -P "$JOBS" -n 2 bash -c 'echo "fuzz/build.sh: $0"; compile "$0" "$1"'
fi

# The web page's files, as server/CMakeLists.txt embeds them into qrank.
cmake -DPAGE_DIR=server/page -DOUT="$OUT/page_assets.c" -P server/embed_page.cmake
compile "$OUT/page_assets.c" "$OUT/obj/page_assets.o"
rm -f "$OUT/libqrank-fuzz.a"
ar rcs "$OUT/libqrank-fuzz.a" "${objs[@]}" "$OUT/obj/page_assets.o"

for name in fuzz_gguf fuzz_safetensors fuzz_hf_config fuzz_tokenizer fuzz_request; do
  echo "$name"
done | xargs -P "$JOBS" -I{} bash -c "
  echo 'fuzz/build.sh: {}'
  clang $COMMON $SAN -fsanitize=fuzzer -Wall -Wextra -Wshadow -Wno-unused-parameter -Werror \
        -DQRANK_SOURCE_DIR='\"$ROOT\"' fuzz/{}.c '$OUT/libqrank-fuzz.a' $LIBS -o '$OUT/{}'"
echo "fuzz/build.sh: targets in $OUT/"
