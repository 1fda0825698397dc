#!/usr/bin/python3
"""check_truncation.py - documents longer than --max-length are cut as the official code cuts them.

  check_truncation.py QRANK MODELS_DIR MODEL_NAME

The official Qwen3-Reranker code tokenizes the body (instruction, query and
document as one string) with max_length - len(prefix) - len(suffix) and
truncation from the right, then adds prefix and suffix. So the document's
tail goes first and a truncated prompt is exactly max_length tokens. With
--max-length 80 and a short instruction, some documents fit and some do not:
the engine must match the reference on the truncated ids, rank them as the
reference does, report the truncated prompts' total in usage, and give the
same score to two documents that differ only after the cut.
"""

import sys

import numpy as np

import common
import qwen3_ref

MAX_LENGTH = 80
INSTRUCTION = "Judge relevance"
QUERY = "capital of China?"
TOL = 1e-4


def main(argv):
    engine, rest = common.args_qrank_models(argv)
    name = rest[0]
    path = engine.model_path(name)
    model = qwen3_ref.Model(path)
    long_doc = common.DOCS[9]
    docs = [
        long_doc,
        "ok",
        long_doc + " And a tail that lies far beyond the cut, so it must never be seen.",
        common.DOCS[0],
        "北京" * 40,
        common.DOCS[3],
        " ".join(["Beijing"] * 30),
    ]
    prompts = common.RerankPrompts(engine, path, QUERY, docs, INSTRUCTION, max_length=MAX_LENGTH)
    full = common.RerankPrompts(engine, path, QUERY, docs, INSTRUCTION)
    n_cut = sum(prompts.truncated)
    print("%s: max_length %d, body budget %d tokens, %d of %d documents truncated"
          % (name, MAX_LENGTH, MAX_LENGTH - 48, n_cut, len(docs)))
    # Guards on the test's own design: it must have both kinds of document,
    # the cut must fall inside the documents, and two documents must differ
    # only after the cut.
    if not (2 <= n_cut <= len(docs) - 2):
        print("FAIL: the document set no longer straddles the limit")
        return 1
    if prompts.bodies[0] != prompts.bodies[2] or full.bodies[0] == full.bodies[2]:
        print("FAIL: documents 0 and 2 should differ only after the cut")
        return 1
    for p, cut in zip(prompts.prompts, prompts.truncated):
        if cut and len(p) != MAX_LENGTH:
            print("FAIL: a truncated prompt has %d tokens" % len(p))
            return 1

    want = np.array([qwen3_ref.rerank_score(model, ids) for ids in prompts.prompts])
    want_full = np.array([qwen3_ref.rerank_score(model, ids) for ids in full.prompts])
    moved = np.abs(want - want_full)[np.array(prompts.truncated)]
    print("reference: truncation moves the truncated documents' scores by %s"
          % " ".join("%.4f" % m for m in moved))
    ok = True
    if moved.max() < 1e-3:
        print("FAIL: truncation barely changes the reference scores; an engine that does not "
              "truncate would pass")
        ok = False

    got, out = engine.rerank_scores(path, QUERY, docs, instruction=INSTRUCTION, max_length=MAX_LENGTH)
    ok &= common.compare("%s truncated to %d" % (name, MAX_LENGTH), got, want, TOL)
    ok &= common.compare("%s docs 0 and 2 equal after the cut" % name, got[2:3], got[0:1], 1e-6)

    order = [r["index"] for r in out["results"]]
    for a, b in zip(order, order[1:]):
        if want[a] < want[b] - TOL:
            print("FAIL: engine ranks %d (ref %.6f) above %d (ref %.6f)" % (a, want[a], b, want[b]))
            ok = False
    print("engine order %s" % order)
    usage = out.get("usage", {})
    print("usage %s, expected prompt_tokens %d" % (usage, prompts.prompt_tokens))
    if usage.get("prompt_tokens") != prompts.prompt_tokens:
        print("FAIL: usage.prompt_tokens")
        ok = False
    print("PASS" if ok else "FAIL")
    return 0 if ok else 1


if __name__ == "__main__":
    sys.exit(main(sys.argv))
