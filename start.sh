#!/usr/bin/env bash
# start.sh - one command on a fresh Debian/Ubuntu machine: installs the build
# dependencies that are missing, builds qrank into build/, fetches the default
# model into models/ when it is not there yet, and serves on port 7860.
# Extra arguments go to `qrank serve` (e.g. ./start.sh --port 8080 --api-key KEY).
# Environment: QRANK_MODEL (reranker path), QRANK_MODEL_URL (where to fetch it),
# QRANK_EMBED_MODEL (embedder path for /v1/cluster, /v1/embeddings and the
# page's Cluster tab; "none" serves without one), QRANK_EMBED_MODEL_URL,
# QRANK_BUILD (build folder, default build/).
#
# Offline (the download fails) it says where to put the model files and serves
# random-weight demo models instead (a reranker and an embedder, so every tab
# works), made by tools/make_model.py (Debian's python3 + python3-numpy, hence
# /usr/bin/python3), served with --demo: the page, /health and /v1/models then
# say that their scores mean nothing. A real reranker whose embedder cannot be
# fetched is served without one rather than beside a random one: the Cluster
# tab then says that clustering is off, and this script says where to put it.
set -euo pipefail
cd "$(dirname "$0")"

MODEL_URL=${QRANK_MODEL_URL:-https://huggingface.co/ggml-org/Qwen3-Reranker-0.6B-Q8_0-GGUF/resolve/main/qwen3-reranker-0.6b-q8_0.gguf}
MODEL=${QRANK_MODEL:-models/qwen3-reranker-0.6b-q8_0.gguf}
DEMO_MODEL=$(dirname "$MODEL")/demo-random-weights.gguf
EMBED_URL=${QRANK_EMBED_MODEL_URL:-https://huggingface.co/Qwen/Qwen3-Embedding-0.6B-GGUF/resolve/main/Qwen3-Embedding-0.6B-Q8_0.gguf}
EMBED_MODEL=${QRANK_EMBED_MODEL:-models/Qwen3-Embedding-0.6B-Q8_0.gguf}
DEMO_EMBED_MODEL=$(dirname "$MODEL")/demo-random-weights-embedder.gguf
BUILD=${QRANK_BUILD:-build}

say() { printf 'start.sh: %s\n' "$*" >&2; }
abspath() { case "$1" in /*) printf '%s' "$1" ;; *) printf '%s/%s' "$(pwd)" "$1" ;; esac; }

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

# ---- models --------------------------------------------------------------------------------
# A -m/--model (--embed-model) among the arguments replaces the default reranker
# (embedder): nothing to fetch for it.
user_model=0
user_embed=0
for a in "$@"; do
  case "$a" in
    -m|--model|--model=*) user_model=1 ;;
    --embed-model|--embed-model=*) user_embed=1 ;;
  esac
done

# fetch URL FILE WHAT: downloads to FILE.part first, so a broken download never looks done.
fetch() {
  mkdir -p "$(dirname "$2")"
  say "downloading $3 (~640 MB) to $2"
  if curl -fL --progress-bar --retry 2 --connect-timeout 15 -o "$2.part" "$1"; then
    mv "$2.part" "$2"
  else
    rm -f "$2.part"
    return 1
  fi
}

demo=()
model_args=()
if [ "$user_model" = 0 ]; then
  if [ ! -s "$MODEL" ]; then
    if ! fetch "$MODEL_URL" "$MODEL" "the default reranker"; then
      cat >&2 <<EOF

start.sh: could not download the model (no internet here?).
  Get it on a machine with internet from
    $MODEL_URL
  and put it at
    $(abspath "$MODEL")
  then run ./start.sh again (or pass -m PATH to serve any Qwen3 reranker GGUF
  or Hugging Face directory). For topic clustering (the Cluster tab), get also
    $EMBED_URL
  and put it at
    $(abspath "$EMBED_MODEL")

start.sh: serving RANDOM-WEIGHT DEMO models meanwhile (a reranker and an
  embedder): the page and the APIs work, but the scores mean nothing.

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

embed_args=()
if [ "$user_embed" = 0 ] && [ "$EMBED_MODEL" != none ]; then
  if [ ! -s "$EMBED_MODEL" ] && [ ${#demo[@]} -gt 0 ]; then
    # Offline already (the reranker could not be fetched): the demo gets a demo embedder.
    if [ ! -s "$DEMO_EMBED_MODEL" ]; then
      /usr/bin/python3 tools/make_model.py --out "$DEMO_EMBED_MODEL" --format gguf --dtype q8_0 \
        --kind embedder --layers 2 --hidden 128 --ffn 256 --heads 4 --kv-heads 2 --head-dim 32 \
        --seed 1 --name "qrank random-weight demo embedder" >/dev/null
    fi
    EMBED_MODEL=$DEMO_EMBED_MODEL
  elif [ ! -s "$EMBED_MODEL" ] && ! fetch "$EMBED_URL" "$EMBED_MODEL" "the default embedder"; then
    cat >&2 <<EOF

start.sh: could not download the embedding model (no internet here?).
  Reranking works; topic clustering (the Cluster tab, /v1/cluster) and
  /v1/embeddings are off until you get
    $EMBED_URL
  and put it at
    $(abspath "$EMBED_MODEL")
  then run ./start.sh again (or pass --embed-model PATH).

EOF
    EMBED_MODEL=""
  fi
  if [ -n "$EMBED_MODEL" ]; then embed_args=(--embed-model "$EMBED_MODEL"); fi
fi

exec "$BUILD/qrank" serve "${model_args[@]}" "${embed_args[@]}" "${demo[@]}" "$@"
