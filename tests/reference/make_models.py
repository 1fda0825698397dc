#!/usr/bin/python3
"""make_models.py - the fixture: generates every test model once, under the build dir.

  make_models.py SOURCE_DIR MODELS_DIR

Models come from the project's generator (tools/make_model.py) so the
reference is checked on the files the engine is checked on. One step is ours:
"strip-model-prefix" rewrites the safetensors headers and the index of an HF
directory so tensor names lose their "model." prefix, as Qwen3-Embedding's
files spell them; tensor data is not touched (offsets are relative to the end
of the header, so only the header is rewritten).

A model is regenerated when its file is missing or older than the generator
or this script, so a rerun of the suite costs nothing.
"""

import json
import os
import shutil
import struct
import subprocess
import sys
import time

HERE = os.path.dirname(os.path.abspath(__file__))
sys.path.insert(0, HERE)
import common  # noqa: E402


def strip_model_prefix(directory):
    renamed = 0
    for fname in sorted(os.listdir(directory)):
        if not fname.endswith(".safetensors"):
            continue
        path = os.path.join(directory, fname)
        with open(path, "rb") as f:
            blob = f.read()
        n = struct.unpack("<Q", blob[:8])[0]
        header = json.loads(blob[8:8 + n].decode("utf-8"))
        new = {}
        for key, value in header.items():
            if key.startswith("model."):
                key = key[len("model."):]
                renamed += 1
            new[key] = value
        text = json.dumps(new).encode("utf-8")
        text += b" " * (-len(text) % 8)  # keep the data area 8-byte aligned
        with open(path + ".tmp", "wb") as f:
            f.write(struct.pack("<Q", len(text)) + text + blob[8 + n:])
        os.replace(path + ".tmp", path)
    index = os.path.join(directory, "model.safetensors.index.json")
    if os.path.exists(index):
        with open(index, encoding="utf-8") as f:
            idx = json.load(f)
        idx["weight_map"] = {(k[len("model."):] if k.startswith("model.") else k): v
                             for k, v in idx["weight_map"].items()}
        with open(index, "w", encoding="utf-8") as f:
            json.dump(idx, f, indent=1)
    if renamed == 0:
        raise RuntimeError("%s: no tensor name had a model. prefix to strip" % directory)


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
    newest_input = max(os.path.getmtime(generator), os.path.getmtime(__file__),
                       os.path.getmtime(common.__file__))
    start = time.time()
    made = 0
    for name, (gen_args, fname, post) in common.model_table().items():
        out = os.path.join(models_dir, fname)
        if os.path.exists(out) and os.path.getmtime(out) >= newest_input:
            continue
        if os.path.isdir(out):
            shutil.rmtree(out)
        elif os.path.exists(out):
            os.unlink(out)
        tmp = out + ".partial"
        if os.path.isdir(tmp):
            shutil.rmtree(tmp)
        cmd = [sys.executable, generator, "--out", tmp] + gen_args
        proc = subprocess.run(cmd, capture_output=True, text=True)
        if proc.returncode != 0:
            sys.stderr.write("%s failed (exit %d):\n%s%s"
                             % (" ".join(cmd), proc.returncode, proc.stdout, proc.stderr))
            return 1
        if post == "strip-model-prefix":
            strip_model_prefix(tmp)
        os.replace(tmp, out)
        made += 1
        print("made %-22s %s" % (name, " ".join(gen_args)))
    print("%d models made, %d up to date, in %.1f s"
          % (made, len(common.model_table()) - made, time.time() - start))
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv))
