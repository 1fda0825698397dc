#!/usr/bin/python3
"""check_embed.py - `qrank embed` against the float64 reference.

  check_embed.py QRANK MODELS_DIR MODEL_NAME...

For each embedder model: documents as they are, queries with an instruction
("Instruct: {task}\nQuery:{text}"), and both again with --dims 32 (MRL:
truncate, then normalise). Ids are tok(text) + <|endoftext|> (151643), whose
final-norm hidden state is the embedding. With --precision exact each engine
vector must have cosine >= 0.9999 with the reference, every component within
1e-4 and unit length. The reference vectors of different texts must differ
(lowest pairwise cosine < 0.999), else the test could not catch a wrong
pooling.

--precision fast (the default) rounds each matrix multiplication's
activations to int8 (Q8_0 and k-quant weights) or bf16 (BF16 weights; F16
weights on AMX, `qrank info` says which), so
its vectors move: measured on these models, int8 down to cosine 0.9988 (mean
1 - cosine 2.7e-4; hidden 64, where rounding weighs most), bf16 0.99997.
Bounds: int8 cosine >= 0.995 and mean 1 - cosine <= 1e-3, bf16 >= 0.9995 and
<= 1e-4; f32 weights (and f16 without AMX) have no fast kernel and must
meet the exact bounds.
A kernel or pooling bug lands far outside these; a fast kernel that never
ran (exact vectors: mean 1 - cosine about 1e-13) fails the lower bound 1e-9.
"""

import sys

import numpy as np

import common
import qwen3_ref

MIN_COSINE = 0.9999
TOL = 1e-4
# --precision fast: (min cosine, max mean 1 - cosine) by the weights' type
FAST_BOUNDS = {"int8": (0.995, 1e-3), "bf16": (0.9995, 1e-4)}
MIN_FAST_LOSS = 1e-9  # exact vectors sit at ~1e-13, rounded ones at 1e-5 and more
TASK = "Given a web search query, retrieve relevant passages that answer the query"
QUERIES = ["What is the capital of China?", "Explain gravity", "北京的人口是多少？", "emoji 🐍?"]


def fast_kind(engine, model, path):
    """The fast kernel's rounding for the model's matrices on this CPU, as `qrank info`
    reports it (check_fast.py keys its bounds the same way): None where nothing is
    rounded (F32 weights, F16 without AMX): the exact kernel either way."""
    kind = common.fast_activations(engine, path, model.weight_type())
    return None if kind == "f32" else kind


def check_fast(engine, model, path, label, texts, instruction):
    ids = common.embed_ids(engine, path, texts, instruction)
    want = [qwen3_ref.embed(model, x, None) for x in ids]
    got = engine.embed(path, texts, instruction=instruction, precision="fast")
    kind = fast_kind(engine, model, path)
    cosines = [float(g @ w / (np.linalg.norm(g) * np.linalg.norm(w))) for g, w in zip(got, want)]
    loss = float(np.mean([1.0 - c for c in cosines]))
    if kind:
        min_cos, max_loss = FAST_BOUNDS[kind]
        # a fast kernel rounds: vectors equal to the exact ones mean it never ran
        ok = min(cosines) >= min_cos and MIN_FAST_LOSS < loss <= max_loss
    else:
        min_cos, max_loss = MIN_COSINE, 1.0 - MIN_COSINE
        ok = min(cosines) >= MIN_COSINE and max(float(np.abs(g - w).max()) for g, w in zip(got, want)) <= TOL
    ok &= all(abs(np.linalg.norm(g) - 1.0) <= 1e-4 for g in got)
    print("%-44s fast (%s): min cosine %.7f (>= %g)  mean 1-cos %.2e (<= %g)  %s"
          % (label, kind or "exact kernel", min(cosines), min_cos, loss, max_loss, "ok" if ok else "FAIL"))
    return ok


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
            ok &= check_fast(engine, model, path, name + " documents", common.DOCS, None)
            ok &= check_fast(engine, model, path, name + " queries + instruction", QUERIES, TASK)
        except Exception as e:
            print("%s: FAIL: %s: %s" % (name, type(e).__name__, e))
            ok = False
    print("PASS" if ok else "FAIL")
    return 0 if ok else 1


if __name__ == "__main__":
    sys.exit(main(sys.argv))
