#!/usr/bin/python3
"""make_models.py - the fixture: generates every test model once, under the build dir.

  make_models.py SOURCE_DIR MODELS_DIR

Models come from the project's generator (tools/make_model.py) so the
reference is checked on the files the engine is checked on (the reference
reads them with its own readers). One step is ours: "swap-cls-rows" swaps the
two rows of cls.output.weight in place (found with the reference's GGUF
reader), so the yes/no head differs from the tied embedding rows.

A model is made again only when its recipe (generator arguments, the
generator's hash, our own step) differs from the one stamped beside it, so a
rerun of the suite costs nothing.
"""

import concurrent.futures
import hashlib
import json
import os
import shutil
import subprocess
import sys
import time

HERE = os.path.dirname(os.path.abspath(__file__))
sys.path.insert(0, HERE)
import common  # noqa: E402
import qwen3_ref  # noqa: E402


def swap_cls_rows(path):
    _, tensors = qwen3_ref.read_gguf(path)
    t = tensors["cls.output.weight"]
    if t.shape[0] != 2:
        raise RuntimeError("%s: cls.output.weight has %d rows" % (path, t.shape[0]))
    yes = bytes(t.buf[t.offset:t.offset + t.row_bytes])
    no = bytes(t.buf[t.offset + t.row_bytes:t.offset + 2 * t.row_bytes])
    if yes == no:
        raise RuntimeError("%s: the yes and no rows are equal; swapping proves nothing" % path)
    offset = t.offset
    del t, tensors  # release the read-only mapping before writing
    with open(path, "r+b") as f:
        f.seek(offset)
        f.write(no + yes)


def recipe(generator, gen_args, post):
    """What a model is made from: if any of it changes, the model is made again."""
    with open(generator, "rb") as f:
        generator_hash = hashlib.sha256(f.read()).hexdigest()
    with open(__file__, "rb") as f:
        own_hash = hashlib.sha256(f.read()).hexdigest() if post else None
    return json.dumps({"args": gen_args, "post": post, "generator": generator_hash, "steps": own_hash})


def make_one(generator, models_dir, name, gen_args, fname, post):
    """Returns None when made or up to date, else an error message."""
    out = os.path.join(models_dir, fname)
    stamp = out + ".recipe"
    want = recipe(generator, gen_args, post)
    if os.path.exists(out) and os.path.exists(stamp):
        with open(stamp, encoding="utf-8") as f:
            if f.read() == want:
                return None
    for path in (out, out + ".partial", stamp):
        if os.path.isdir(path):
            shutil.rmtree(path)
        elif os.path.exists(path):
            os.unlink(path)
    tmp = out + ".partial"
    cmd = [sys.executable, generator, "--out", tmp] + gen_args
    proc = subprocess.run(cmd, capture_output=True, text=True)
    if proc.returncode != 0:
        return "%s failed (exit %d):\n%s%s" % (" ".join(cmd), proc.returncode, proc.stdout, proc.stderr)
    if post == "swap-cls-rows":
        swap_cls_rows(tmp)
    elif post is not None:
        return "unknown step " + post
    os.replace(tmp, out)
    with open(stamp, "w", encoding="utf-8") as f:
        f.write(want)
    print("made %-24s %s" % (name, " ".join(gen_args)), flush=True)
    return None


def main(argv):
    if len(argv) != 3:
        sys.stderr.write(__doc__)
        return 2
    source_dir, models_dir = argv[1], argv[2]
    generator = os.path.join(source_dir, "tools", "make_model.py")
    if not os.path.exists(generator):
        sys.stderr.write("%s is missing: the test models cannot be made\n" % generator)
        return 1
    os.makedirs(models_dir, exist_ok=True)
    start = time.time()
    table = common.model_table()
    # Two at a time: the generator is single-threaded and CI has two cores.
    with concurrent.futures.ThreadPoolExecutor(max_workers=2) as pool:
        errors = [e for e in pool.map(lambda item: make_one(generator, models_dir, item[0], *item[1]),
                                      table.items()) if e]
    for e in errors:
        sys.stderr.write(e + "\n")
    print("%d models ready in %.1f s%s" % (len(table), time.time() - start,
                                           ", %d FAILED" % len(errors) if errors else ""))
    return 1 if errors else 0


if __name__ == "__main__":
    sys.exit(main(sys.argv))
