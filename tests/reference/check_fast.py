#!/usr/bin/python3
"""check_fast.py - `--precision fast` stays close to the float64 reference.

  check_fast.py QRANK MODELS_DIR MODEL_NAME...

Fast precision rounds activations to the weights' type where the CPU has an
instruction for it: int8 for Q8_0 weights (and for Q4_0, Q4_K and Q6_K, whose
SIMD kernels multiply int8 activations too), bf16 for BF16 weights, and for
F16 weights on AMX (two bf16 halves of each weight). `qrank info` says which
("fast matrices: int8 activations"), and that sets the bounds, looser than
exact precision's 1e-4:
  int8: max |diff| 0.06, mean 0.01, and no two documents swapped whose
        reference scores differ by more than 0.05;
  bf16: max |diff| 0.015, mean 0.003.
Where nothing is rounded ("f32 activations": F32 weights, F16 without AMX)
fast scores must equal the reference within 1e-4 like exact ones. Where a
fast kernel runs, its scores must also differ from the reference (mean
|diff| above 1e-5; measured 0.002-0.006, exact kernels 1.5e-7): scores that
close mean the exact kernel ran although `qrank info` says otherwise.

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
BOUNDS = {  # what fast rounds activations to: (max |diff|, mean |diff|, swap margin)
    "int8": (0.06, 0.01, 0.05),
    "bf16": (0.015, 0.003, 0.03),  # the swap margin follows from the max bound here
    "f32": (1e-4, 1e-4, 1e-4),
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
        try:
            kind = common.fast_activations(engine, path, wtype)
        except RuntimeError as e:
            print("%-22s %-5s %s  FAIL" % (name, wtype, e))
            ok = False
            continue
        max_tol, mean_tol, swap_margin = BOUNDS[kind]
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
        rounds = kind != "f32"
        if rounds and diff.mean() <= MIN_FAST_MEAN:
            print("%-22s %-5s fast scores equal the reference (mean |diff| %.1e): the fast kernel did not run  FAIL"
                  % (name, wtype, diff.mean()))
            good = False
        print("%-22s %-5s fast, %s: n=%d max|diff| %.3e (<= %g)  mean|diff| %.3e (<= %g)  "
              "swaps beyond %.3f: %d  %s" % (name, wtype, kind, len(want), diff.max(), max_tol, diff.mean(),
                                             mean_tol, swap_margin, swaps, "ok" if good else "FAIL"))
        ok &= good
    print("PASS" if ok else "FAIL")
    return 0 if ok else 1


if __name__ == "__main__":
    sys.exit(main(sys.argv))
