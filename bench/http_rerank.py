#!/usr/bin/python3
"""http_rerank.py - posts-N end to end as users run it: `qrank rerank` and `qrank serve`.

  bench/http_rerank.py [--build build] [--model models/bench-0.6b-q8_0.gguf]
                       [--docs 20] [--repeats 5] [--threads N] [--repack idle|load|off]
                       [--prefix-cache on|off]

The same posts and query as bench-rerank's posts-N workload (bench-rerank
--print-posts). Prints, each over --repeats runs (median, min, max):
- the command line: `qrank rerank -f POSTS`, from process start to exit
  (loading the model included);
- the server: one `qrank serve --port 0`, the time from its start until it
  says it is running, then POST /v1/rerank (Cohere form) with all posts, from
  request to full answer. --repack says how the server lays Q8_0 weights
  (and BF16 ones, on AMX) out for its fast kernel: idle (its default: while no request waits; the
  requests are sent once /v1/models says it is done, and the time from the
  start to then is printed), load (`--repack`) or off (`--no-repack`).
  Every request sends the same query: --prefix-cache on leaves the server's
  prefix cache on (its default), so requests after the first skip the
  query's prefix; off (the default here) gives it `--prefix-cache-mb 0`, so
  each request is scored as a new query would be;
- the prompt tokens of the answer's usage (one whole prompt per post, as the
  official code counts them) and the seconds a one-prompt-per-post engine at
  llama.cpp's measured 300-340 prompt tokens/s (2 threads, this kind of
  machine: the speed issue) would need for them, and the ratio.
Python standard library only; run it on an otherwise idle machine.
"""

import argparse
import json
import os
import re
import statistics
import subprocess
import sys
import tempfile
import time
import urllib.request

QUERY = "杭州亚运会闭幕式烟花秀"  # bench-rerank's
LLAMA_CPP_TOKENS_PER_S = (300.0, 340.0)


def summary(xs):
    return "%.3f (%.3f-%.3f)" % (statistics.median(xs), min(xs), max(xs))


def main():
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--build", default="build")
    ap.add_argument("--model", default="models/bench-0.6b-q8_0.gguf")
    ap.add_argument("--docs", type=int, default=20)
    ap.add_argument("--repeats", type=int, default=5)
    ap.add_argument("--threads", type=int, default=0)
    ap.add_argument("--repack", choices=("idle", "load", "off"), default="idle",
                    help="how qrank serve lays Q8_0 and BF16 weights out (default: idle, its own default)")
    ap.add_argument("--prefix-cache", choices=("on", "off"), default="off",
                    help="keep the query's prefix between requests (default here: off)")
    a = ap.parse_args()
    qrank = os.path.join(a.build, "qrank")
    maker = os.path.join(a.build, "bench", "bench-rerank")
    for path in (qrank, maker, a.model):
        if not os.path.exists(path):
            sys.exit("http_rerank.py: %s is missing (build first; bench-rerank makes the model)" % path)
    posts = subprocess.run([maker, "--print-posts", str(a.docs)], check=True, capture_output=True,
                           text=True).stdout.splitlines()
    threads = ["--threads", str(a.threads)] if a.threads > 0 else []

    with tempfile.NamedTemporaryFile("w", encoding="utf-8", suffix=".txt", delete=False) as f:
        f.write("".join(p + "\n" for p in posts))
        posts_file = f.name
    try:
        cli = []
        for _ in range(a.repeats):
            t0 = time.monotonic()
            subprocess.run([qrank, "rerank", "-m", a.model, "-q", QUERY, "-f", posts_file] + threads,
                           check=True, capture_output=True)
            cli.append(time.monotonic() - t0)
    finally:
        os.unlink(posts_file)

    t0 = time.monotonic()
    server = subprocess.Popen([qrank, "serve", "-m", a.model, "--port", "0"] + threads +
                              {"idle": [], "load": ["--repack"], "off": ["--no-repack"]}[a.repack] +
                              ([] if a.prefix_cache == "on" else ["--prefix-cache-mb", "0"]),
                              stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True)
    try:
        port = None
        for line in server.stdout:
            m = re.search(r"Running on local URL: http://[^:]+:(\d+)", line)
            if m:
                port = int(m.group(1))
                break
        if port is None:
            sys.exit("http_rerank.py: the server stopped before it was running")
        ready = time.monotonic() - t0
        laid_out = None
        while a.repack == "idle":
            with urllib.request.urlopen("http://127.0.0.1:%d/v1/models" % port, timeout=60) as resp:
                model = json.loads(resp.read())["data"][0]
            if model["packed_bytes"] >= model["layout_bytes"]:
                laid_out = time.monotonic() - t0
                break
            time.sleep(0.01)
        body = json.dumps({"query": QUERY, "documents": posts}).encode()
        http, prompt_tokens = [], 0
        for _ in range(a.repeats):
            req = urllib.request.Request("http://127.0.0.1:%d/v1/rerank" % port, data=body,
                                         headers={"Content-Type": "application/json"})
            t1 = time.monotonic()
            with urllib.request.urlopen(req, timeout=600) as resp:
                answer = json.loads(resp.read())
            http.append(time.monotonic() - t1)
            if len(answer["results"]) != len(posts):
                sys.exit("http_rerank.py: %d results for %d posts" % (len(answer["results"]), len(posts)))
            prompt_tokens = answer["usage"]["prompt_tokens"]
    finally:
        server.terminate()
        server.wait(timeout=60)

    lo, hi = (prompt_tokens / r for r in reversed(LLAMA_CPP_TOKENS_PER_S))
    print("model %s, %d posts, %d repeats, threads %s, server repack %s, prefix cache %s"
          % (a.model, len(posts), a.repeats, a.threads or "all", a.repack, a.prefix_cache))
    print("prompt tokens (one whole prompt per post): %d; at llama.cpp's 300-340 tokens/s: %.1f-%.1f s"
          % (prompt_tokens, lo, hi))
    print("%-44s %-26s %s" % ("path", "median s (min-max)", "vs one prompt per post at llama.cpp's rate"))
    for label, xs in (("qrank rerank (process start to exit)", cli), ("POST /v1/rerank (request to answer)", http)):
        med = statistics.median(xs)
        print("%-44s %-26s %.1f-%.1fx" % (label, summary(xs), lo / med, hi / med))
    print("%-44s %.3f" % ("qrank serve: start to running", ready))
    if laid_out is not None:
        print("%-44s %.3f" % ("qrank serve: start to weights laid out", laid_out))


if __name__ == "__main__":
    main()
