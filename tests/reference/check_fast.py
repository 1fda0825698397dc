#!/usr/bin/python3
"""check_fast.py - `--precision fast` stays close to the float64 reference.

  check_fast.py QRANK MODELS_DIR MODEL_NAME...

Fast precision rounds activations to the weights' type where the CPU has an
instruction for it: int8 for Q8_0 weights (and for Q4_0, Q4_K and Q6_K, whose
SIMD kernels multiply int8 activations too), bf16 for BF16 weights. That
moves scores, so the bounds are looser than exact precision's 1e-4, set per
weight type:
  Q8_0, Q4_0, Q4_K, Q6_K: max |diff| 0.06, mean 0.01, and no two documents
        swapped whose reference scores differ by more than 0.05;
  BF16: max |diff| 0.015, mean 0.003.
Other weight types have no fast path; their fast scores must equal the
reference within 1e-4 like exact ones. Where a fast kernel exists, its scores
must also differ from the reference (mean |diff| above 1e-5; measured
0.002-0.006, exact kernels 1.5e-7): scores that close mean the exact kernel
ran instead, as it does for Q4_0/Q4_K/Q6_K when their weights are not laid
out for the int8 kernel.

With QRANK_KERNELS or QRANK_ATTENTION in the environment
(reference-fast-bf16-avx512: the vdpbf16ps matrix kernel, which a CPU with
AMX no longer picks by itself; reference-fast-bf16-attention: attention on
vdpbf16ps, which only AMD CPUs pick by themselves) every model must report
those choices; a CPU or OS that cannot run them makes the test exit 77,
reported as skipped with the reason.
"""

import sys

import numpy as np

import common
import qwen3_ref

MIN_FAST_MEAN = 1e-5  # rounding moves scores by 2e-3 and more on average, exact kernels by 2e-7
BOUNDS = {  # weight type: (max |diff|, mean |diff|, swap margin)
    "Q8_0": (0.06, 0.01, 0.05),
    "Q4_0": (0.06, 0.01, 0.05),
    "Q4_K": (0.06, 0.01, 0.05),
    "Q6_K": (0.06, 0.01, 0.05),
    "BF16": (0.015, 0.003, 0.03),  # the swap margin follows from the max bound here
}


def main(argv):
    engine, names = common.args_qrank_models(argv)
    ok = True
    pins = common.check_pins(engine, names)
    if pins == 77:
        return 77
    ok &= pins
    for name in names:
        path = engine.model_path(name)
        model = qwen3_ref.Model(path)
        wtype = model.weight_type()
        max_tol, mean_tol, swap_margin = BOUNDS.get(wtype, (1e-4, 1e-4, 1e-4))
        want, got = [], []
        common.prefetch_rerank_tokens(engine, path, common.QUERY, common.DOCS, (None, common.INSTRUCTION))
        for instruction in (None, common.INSTRUCTION):
            prompts = common.RerankPrompts(engine, path, common.QUERY, common.DOCS, instruction)
            want += [qwen3_ref.rerank_score(model, ids) for ids in prompts.prompts]
            got += list(engine.rerank_scores(path, common.QUERY, common.DOCS, instruction=instruction,
                                             precision="fast")[0])
        want, got = np.array(want), np.array(got)
        diff = np.abs(got - want)
        good = diff.max() <= max_tol and diff.mean() <= mean_tol
        swaps = 0
        n = len(common.DOCS)
        for base in (0, n):  # pairs within one query/instruction
            for i in range(base, base + n):
                for j in range(base, base + n):
                    if want[i] - want[j] > swap_margin and got[i] < got[j]:
                        swaps += 1
        good &= swaps == 0
        rounds = wtype in BOUNDS
        if wtype in ("Q4_0", "Q4_K", "Q6_K"):
            # their int8 kernel is in the SIMD tables only: say which ran
            info = engine.run(["info", "-m", path])
            line = next((l for l in info.splitlines() if l.startswith("kernels:")), "")
            rounds = "generic" not in line
            print("%-22s %-5s %s" % (name, wtype, line.strip()))
        if rounds and diff.mean() <= MIN_FAST_MEAN:
            print("%-22s %-5s fast scores equal the reference (mean |diff| %.1e): the fast kernel did not run  FAIL"
                  % (name, wtype, diff.mean()))
            good = False
        print("%-22s %-5s fast: n=%d max|diff| %.3e (<= %g)  mean|diff| %.3e (<= %g)  "
              "swaps beyond %.3f: %d  %s" % (name, wtype, len(want), diff.max(), max_tol, diff.mean(),
                                             mean_tol, swap_margin, swaps, "ok" if good else "FAIL"))
        ok &= good
    print("PASS" if ok else "FAIL")
    return 0 if ok else 1


if __name__ == "__main__":
    sys.exit(main(sys.argv))
