#!/usr/bin/python3
"""check_batch.py - a document's score does not depend on its company.

  check_batch.py QRANK MODELS_DIR MODEL_NAME [--precision exact|fast]

Scores a few documents alone (one per call), then inside a batch of 50
documents of very different lengths where they sit at the start, the middle
and the end; each score must agree within 1e-5. The engine shares the
query's prefix and pads or packs documents of a batch together, so this is
what catches masking, position or padding mistakes that one-document calls
cannot see. The batch order also goes through stdin, the other input path.
"""

import sys

import numpy as np

import common

TOL = 1e-5


def filler(i):
    # 50 documents from 1 to ~120 tokens, mixed scripts, none equal.
    words = ["river", "mountain", "城市", "capital", "données", "🚀", "history", "Beijing", "東京", "42"]
    n = 1 + (i * 7) % 60
    return " ".join(words[(i + j) % len(words)] for j in range(n)) + " #%d" % i


def main(argv):
    engine, rest = common.args_qrank_models(argv)
    name = rest[0]
    pins = common.check_pins(engine, [name])  # QRANK_KERNELS, QRANK_ATTENTION
    if pins is not True:
        return 77 if pins == 77 else 1
    precision = rest[rest.index("--precision") + 1] if "--precision" in rest else "exact"
    path = engine.model_path(name)
    probes = [common.DOCS[0], common.DOCS[4], common.DOCS[6], common.DOCS[9]]
    alone = np.array([engine.rerank_scores(path, common.QUERY, [d], precision=precision)[0][0]
                      for d in probes])
    batch = [filler(i) for i in range(50)]
    slots = [0, 17, 33, 49]
    for slot, d in zip(slots, probes):
        batch[slot] = d
    scores, out = engine.rerank_scores(path, common.QUERY, batch, precision=precision, via_stdin=True)
    ok = common.compare("%s %s alone vs in a batch of 50" % (name, precision),
                        scores[slots], alone, TOL)
    ok &= len(out["results"]) == 50
    # The same batch in reverse: every document's score follows it.
    rev_scores, _ = engine.rerank_scores(path, common.QUERY, batch[::-1], precision=precision)
    ok &= common.compare("%s %s batch of 50 reversed" % (name, precision), rev_scores[::-1], scores, TOL)
    print("batch scores: min %.4f max %.4f" % (scores.min(), scores.max()))
    print("PASS" if ok else "FAIL")
    return 0 if ok else 1


if __name__ == "__main__":
    sys.exit(main(sys.argv))
