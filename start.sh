#!/usr/bin/env bash
# start.sh - one command on a fresh Debian/Ubuntu machine: installs the build
# dependencies that are missing, builds qrank into build/, fetches the default
# model into models/ when it is not there yet, and serves on port 7860.
# Extra arguments go to `qrank serve` (e.g. ./start.sh --port 8080 --api-key KEY).
# Environment: QRANK_MODEL (model path), QRANK_MODEL_URL (where to fetch it),
# QRANK_BUILD (build folder, default build/).
#
# Offline (the download fails) it says where to put the model file and serves
# a random-weight demo model instead, made by tools/make_model.py (Debian's
# python3 + python3-numpy, hence /usr/bin/python3), served with --demo:
# the page, /health and /v1/models then say that its scores mean nothing.
set -euo pipefail
cd "$(dirname "$0")"

MODEL_URL=${QRANK_MODEL_URL:-https://huggingface.co/ggml-org/Qwen3-Reranker-0.6B-Q8_0-GGUF/resolve/main/qwen3-reranker-0.6b-q8_0.gguf}
MODEL=${QRANK_MODEL:-models/qwen3-reranker-0.6b-q8_0.gguf}
DEMO_MODEL=$(dirname "$MODEL")/demo-random-weights.gguf
BUILD=${QRANK_BUILD:-build}

say() { printf 'start.sh: %s\n' "$*" >&2; }

SUDO=""
if [ "$(id -u)" != 0 ]; then SUDO="sudo"; fi

# ---- build dependencies, only those missing -------------------------------------------------
need=()
for pkg in cmake gcc make pkg-config libpcre2-dev libutf8proc-dev libcjson-dev libmicrohttpd-dev \
           curl python3 python3-numpy; do
  dpkg -s "$pkg" >/dev/null 2>&1 || need+=("$pkg")
done
if [ ${#need[@]} -gt 0 ]; then
  say "installing ${need[*]}"
  $SUDO apt-get update -q
  DEBIAN_FRONTEND=noninteractive $SUDO apt-get install -y -q "${need[@]}"
fi

# ---- build ---------------------------------------------------------------------------------
cmake -S . -B "$BUILD" -DCMAKE_BUILD_TYPE=Release >/dev/null
cmake --build "$BUILD" -j"$(nproc)"

# ---- model ---------------------------------------------------------------------------------
# A -m/--model among the arguments replaces the default model: nothing to fetch.
user_model=0
for a in "$@"; do
  case "$a" in -m|--model) user_model=1 ;; esac
done

demo=()
model_args=()
if [ "$user_model" = 0 ]; then
  if [ ! -s "$MODEL" ]; then
    mkdir -p "$(dirname "$MODEL")"
    say "downloading the default model (~640 MB) to $MODEL"
    if curl -fL --progress-bar --retry 2 --connect-timeout 15 -o "$MODEL.part" "$MODEL_URL"; then
      mv "$MODEL.part" "$MODEL"
    else
      rm -f "$MODEL.part"
      cat >&2 <<EOF

start.sh: could not download the model (no internet here?).
  Get it on a machine with internet from
    $MODEL_URL
  and put it at
    $(pwd)/$MODEL
  then run ./start.sh again (or pass -m PATH to serve any Qwen3 reranker GGUF
  or Hugging Face directory).

start.sh: serving a RANDOM-WEIGHT DEMO model meanwhile: the page and the APIs
  work, but the scores mean nothing.

EOF
      if [ ! -s "$DEMO_MODEL" ]; then
        /usr/bin/python3 tools/make_model.py --out "$DEMO_MODEL" --format gguf --dtype q8_0 \
          --layers 2 --hidden 128 --ffn 256 --heads 4 --kv-heads 2 --head-dim 32 --seed 0 \
          --name "qrank random-weight demo" >/dev/null
      fi
      MODEL=$DEMO_MODEL
      demo=(--demo)
    fi
  fi
  model_args=(-m "$MODEL")
fi

exec "$BUILD/qrank" serve "${model_args[@]}" "${demo[@]}" "$@"
