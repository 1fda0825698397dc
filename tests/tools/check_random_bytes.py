#!/usr/bin/python3
"""check_random_bytes.py - make_model.py --random-bytes, the generator for
machines without numpy (bench-rerank uses it there), run with numpy out of
reach (python3 -S: no site packages): each weight type it takes makes a
GGUF file of the same size as the numpy path's for the same shape, which
qrank loads and scores with: every score finite, in [0, 1], not all equal.
Types it does not take and a missing numpy without the flag end in a clear
error, not a traceback.

Usage: check_random_bytes.py QRANK_BINARY SOURCE_DIR WORK_DIR
"""
import json
import os
import subprocess
import sys

SHAPE = ["--layers", "2", "--hidden", "128", "--ffn", "384", "--heads", "4", "--kv-heads", "2",
         "--head-dim", "32"]
POSTS = ["杭州亚运会闭幕式烟花太震撼了", "new EV battery breakthrough tonight", "地铁好挤 求攻略",
         "cherry blossoms in Hangzhou this weekend", "今晚直播回放", "the closing ceremony was stunning",
         "续航 快充 电池", "lol can't stop watching"]


def main():
    qrank, src, work = sys.argv[1:4]
    gen = os.path.join(src, "tools", "make_model.py")
    os.makedirs(work, exist_ok=True)
    failures = []
    bare = subprocess.run(["/usr/bin/python3", "-S", "-c", "import numpy"], capture_output=True)
    if bare.returncode == 0:
        print("note: numpy imports even with -S here; the run below cannot prove it unused")
    for dtype in ("q8_0", "bf16", "f16", "f32"):
        out = os.path.join(work, "rb-%s.gguf" % dtype)
        r = subprocess.run(["/usr/bin/python3", "-S", gen, "--out", out, "--format", "gguf", "--dtype", dtype,
                            "--random-bytes", "--seed", "3"] + SHAPE, capture_output=True, text=True)
        if r.returncode != 0:
            failures.append("%s: make_model --random-bytes failed: %s" % (dtype, r.stderr.strip()[-400:]))
            continue
        ref = os.path.join(work, "np-%s.gguf" % dtype)
        subprocess.run(["/usr/bin/python3", gen, "--out", ref, "--format", "gguf", "--dtype", dtype,
                        "--seed", "3"] + SHAPE, check=True, capture_output=True)
        if os.path.getsize(out) != os.path.getsize(ref):
            failures.append("%s: %d bytes, the numpy path's file %d" % (dtype, os.path.getsize(out),
                                                                     os.path.getsize(ref)))
        again = os.path.join(work, "rb-%s-again.gguf" % dtype)
        subprocess.run(["/usr/bin/python3", "-S", gen, "--out", again, "--format", "gguf", "--dtype", dtype,
                        "--random-bytes", "--seed", "3"] + SHAPE, check=True, capture_output=True)
        with open(out, "rb") as f1, open(again, "rb") as f2:
            if f1.read() != f2.read():
                failures.append("%s: two runs with one seed wrote different files" % dtype)
        r = subprocess.run([qrank, "rerank", "-m", out, "-q", "Hangzhou Asian Games", "--json"],
                           input="\n".join(POSTS) + "\n", capture_output=True, text=True)
        if r.returncode != 0:
            failures.append("%s: qrank rerank failed: %s" % (dtype, r.stderr.strip()))
            continue
        scores = [x["relevance_score"] for x in json.loads(r.stdout)["results"]]
        ok = len(scores) == len(POSTS) and all(0.0 <= s <= 1.0 for s in scores) and max(scores) > min(scores)
        print("%-5s %d bytes, scores %s  %s" % (dtype, os.path.getsize(out),
                                               " ".join("%.3f" % s for s in scores), "ok" if ok else "FAIL"))
        if not ok:
            failures.append("%s: scores %r" % (dtype, scores))
        for path in (out, ref, again):  # 25-85 MB each: the full vocabulary's embedding
            os.remove(path)
    for args, want in ((["--dtype", "q4_k", "--random-bytes"], "--random-bytes writes gguf files of"),
                       (["--dtype", "q8_0"], "numpy is missing")):
        if want == "numpy is missing" and bare.returncode == 0:
            continue
        r = subprocess.run(["/usr/bin/python3", "-S", gen, "--out", os.path.join(work, "bad.gguf"),
                            "--format", "gguf"] + args + SHAPE, capture_output=True, text=True)
        if r.returncode == 0 or want not in r.stderr or "Traceback" in r.stderr:
            failures.append("%s: exit %d, stderr %r (wanted a usage error naming %r)"
                            % (" ".join(args), r.returncode, r.stderr.strip()[-300:], want))
        else:
            print("%-32s refused: %s" % (" ".join(args), r.stderr.strip().splitlines()[-1]))
    for f in failures:
        print("FAIL " + f)
    return 1 if failures else 0


if __name__ == "__main__":
    sys.exit(main())
