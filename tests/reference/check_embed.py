#!/usr/bin/python3
"""check_embed.py - `qrank embed --precision exact` against the float64 reference.

  check_embed.py QRANK MODELS_DIR MODEL_NAME...

For each embedder model: documents as they are, queries with an instruction
("Instruct: {task}\nQuery:{text}"), and both again with --dims 32 (MRL:
truncate, then normalise). Ids are tok(text) + <|endoftext|> (151643), whose
final-norm hidden state is the embedding. Each engine vector must have
cosine >= 0.9999 with the reference, every component within 1e-4 and unit
length. The reference vectors of different texts must differ (lowest
pairwise cosine < 0.999), else the test could not catch a wrong pooling.
"""

import sys

import numpy as np

import common
import qwen3_ref

MIN_COSINE = 0.9999
TOL = 1e-4
TASK = "Given a web search query, retrieve relevant passages that answer the query"
QUERIES = ["What is the capital of China?", "Explain gravity", "北京的人口是多少？", "emoji 🐍?"]


def check(engine, model, path, label, texts, instruction, dims):
    ids = common.embed_ids(engine, path, texts, instruction)
    want = [qwen3_ref.embed(model, x, dims) for x in ids]
    got = engine.embed(path, texts, instruction=instruction, dims=dims)
    n = dims or model.config.hidden
    ok = True
    cosines, diffs = [], []
    for g, w in zip(got, want):
        if g.shape != (n,):
            print("  FAIL: %s: vector of %d values, expected %d" % (label, g.size, n))
            return False
        cosines.append(float(g @ w / (np.linalg.norm(g) * np.linalg.norm(w))))
        diffs.append(float(np.abs(g - w).max()))
        if abs(np.linalg.norm(g) - 1.0) > 1e-4:
            print("  FAIL: %s: norm %.6f" % (label, np.linalg.norm(g)))
            ok = False
    ref_pairs = [float(a @ b) for i, a in enumerate(want) for b in want[i + 1:]]
    ok &= min(cosines) >= MIN_COSINE and max(diffs) <= TOL
    print("%-44s n=%d dims %d  min cosine %.7f  max|diff| %.2e  reference pairwise cos %.3f..%.3f  %s"
          % (label, len(texts), n, min(cosines), max(diffs), min(ref_pairs), max(ref_pairs),
             "ok" if ok else "FAIL"))
    if min(ref_pairs) >= 0.999:
        print("  FAIL: the reference embeds every text almost the same; the test could not fail")
        ok = False
    return ok


def main(argv):
    engine, names = common.args_qrank_models(argv)
    ok = True
    for name in names:
        path = engine.model_path(name)
        model = qwen3_ref.Model(path)
        print("%s: %s" % (name, model.config))
        try:
            for dims in (None, 32):
                suffix = " --dims %d" % dims if dims else ""
                ok &= check(engine, model, path, name + " documents" + suffix, common.DOCS, None, dims)
                ok &= check(engine, model, path, name + " queries + instruction" + suffix, QUERIES, TASK, dims)
        except Exception as e:
            print("%s: FAIL: %s: %s" % (name, type(e).__name__, e))
            ok = False
    print("PASS" if ok else "FAIL")
    return 0 if ok else 1


if __name__ == "__main__":
    sys.exit(main(sys.argv))
