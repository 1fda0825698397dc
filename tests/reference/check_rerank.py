#!/usr/bin/python3
"""check_rerank.py - `qrank rerank --precision exact` against the float64 reference.

  check_rerank.py QRANK MODELS_DIR MODEL_NAME...

For each model: the ten varied documents of common.DOCS, once with the
default instruction and once with a custom one, scored by the engine and by
qwen3_ref on the official prompt ids. Every score must be within 1e-4 of the
reference (both start from the same dequantised weights; the engine computes
in f32, the reference in f64). The scores must also spread (max - min > 0.05)
so that a wrong engine cannot pass by giving every document the same answer,
and the reported prompt_tokens must be the official prompts' total.

With QRANK_KERNELS in the environment (reference-rerank-avx2,
reference-rerank-generic: the f32 attention and SiLU built for 8 and 4
lanes, which CPUs without AVX-512 run) every model must report that table;
a CPU that cannot run it makes the test exit 77, reported as skipped.
"""

import sys
import time

import numpy as np

import common
import qwen3_ref

TOL = 1e-4
MIN_SPREAD = 0.05


def check_model(engine, name):
    path = engine.model_path(name)
    model = qwen3_ref.Model(path)
    print("%s: %s, head %s" % (name, model.config, model.head.name))
    ok = True
    common.prefetch_rerank_tokens(engine, path, common.QUERY, common.DOCS, (None, common.INSTRUCTION))
    for instruction in (None, common.INSTRUCTION):
        label = "%s %s" % (name, "custom instruction" if instruction else "default instruction")
        prompts = common.RerankPrompts(engine, path, common.QUERY, common.DOCS, instruction)
        want = np.array([qwen3_ref.rerank_score(model, ids) for ids in prompts.prompts])
        got, out = engine.rerank_scores(path, common.QUERY, common.DOCS, instruction=instruction,
                                        precision="exact")
        ok &= common.compare(label, got, want, TOL)
        spread = want.max() - want.min()
        print("  reference scores %s  spread %.3f"
              % (" ".join("%.4f" % s for s in want), spread))
        if spread <= MIN_SPREAD:
            print("  FAIL: reference scores spread %.4f <= %.2f: the test could not tell documents apart"
                  % (spread, MIN_SPREAD))
            ok = False
        usage = out.get("usage", {})
        if usage.get("prompt_tokens") != prompts.prompt_tokens:
            print("  FAIL: usage.prompt_tokens %r, official prompts total %d"
                  % (usage.get("prompt_tokens"), prompts.prompt_tokens))
            ok = False
    return ok


def main(argv):
    engine, names = common.args_qrank_models(argv)
    if not names:
        sys.stderr.write("no model names given\n")
        return 2
    start = time.time()
    ok = common.check_pins(engine, names)
    if ok == 77:
        return 77
    for name in names:
        try:
            ok &= check_model(engine, name)
        except Exception as e:  # report every model, then fail
            print("%s: FAIL: %s: %s" % (name, type(e).__name__, e))
            ok = False
    print("%d models, %d qrank calls, %.1f s: %s"
          % (len(names), engine.calls, time.time() - start, "PASS" if ok else "FAIL"))
    return 0 if ok else 1


if __name__ == "__main__":
    sys.exit(main(sys.argv))
