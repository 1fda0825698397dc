#!/usr/bin/python3
"""check_cli.py - the shape of `qrank rerank --json`: ordering, --top-n, indices, usage.

  check_cli.py QRANK MODELS_DIR MODEL_NAME

The output must be one valid JSON object
  {"model": ..., "results": [{"index", "relevance_score", "document": {"text"}}...],
   "usage": {"prompt_tokens", "total_tokens"}}
with results sorted by score (best first), indices the documents' input
positions, texts the input lines unchanged, and --top-n keeping the best n
(the same n the reference ranks highest).
"""

import json
import sys

import numpy as np

import common
import qwen3_ref


def check_results(label, out, docs, want, n_expected):
    errors = []
    if not isinstance(out.get("model"), str) or not out["model"]:
        errors.append("model is not a non-empty string: %r" % (out.get("model"),))
    results = out.get("results")
    if not isinstance(results, list) or len(results) != n_expected:
        return errors + ["results: expected a list of %d, got %r" % (n_expected, results)]
    seen = set()
    for r in results:
        i = r.get("index")
        if not isinstance(i, int) or not 0 <= i < len(docs) or i in seen:
            errors.append("bad or repeated index %r" % (i,))
            continue
        seen.add(i)
        if r.get("document", {}).get("text") != docs[i]:
            errors.append("index %d: text %r is not the input %r" % (i, r.get("document"), docs[i]))
        s = r.get("relevance_score")
        if isinstance(s, bool) or not isinstance(s, (int, float)) or not 0.0 <= s <= 1.0:
            errors.append("index %d: relevance_score %r" % (i, s))
    if errors:
        return errors
    scores = [r["relevance_score"] for r in results]
    if any(a < b for a, b in zip(scores, scores[1:])):
        errors.append("results are not sorted by score: %s" % scores)
    # The best n by the reference (ties within the tolerance may swap).
    ref_order = list(np.argsort(-want, kind="stable"))
    for r in results:
        rank = ref_order.index(r["index"])
        if rank >= n_expected and want[r["index"]] < want[ref_order[n_expected - 1]] - 1e-4:
            errors.append("index %d (reference rank %d) is in the top %d" % (r["index"], rank, n_expected))
    for a, b in zip(results, results[1:]):
        if want[a["index"]] < want[b["index"]] - 1e-4:
            errors.append("index %d ranked above %d against the reference" % (a["index"], b["index"]))
    print("%-40s %d results, indices %s" % (label, len(results), [r["index"] for r in results]))
    return errors


def main(argv):
    engine, rest = common.args_qrank_models(argv)
    name = rest[0]
    path = engine.model_path(name)
    model = qwen3_ref.Model(path)
    docs = common.DOCS
    prompts = common.RerankPrompts(engine, path, common.QUERY, docs)
    want = np.array([qwen3_ref.rerank_score(model, ids) for ids in prompts.prompts])
    errors = []

    # Raw stdout must parse as JSON by itself (no log lines mixed in).
    tmp_out = engine.run(["rerank", "-m", path, "-q", common.QUERY, "--json", "--precision", "exact"],
                         stdin_text="".join(d + "\n" for d in docs))
    try:
        full = json.loads(tmp_out)
    except ValueError as e:
        print("FAIL: stdout is not one JSON object: %s\n%s" % (e, tmp_out[:500]))
        return 1
    errors += check_results("all documents (stdin)", full, docs, want, len(docs))
    usage = full.get("usage", {})
    if usage.get("prompt_tokens") != prompts.prompt_tokens or usage.get("total_tokens") != prompts.prompt_tokens:
        errors.append("usage %r, expected prompt_tokens = total_tokens = %d" % (usage, prompts.prompt_tokens))

    for n in (1, 3, len(docs), len(docs) + 5):
        out = engine.rerank(path, common.QUERY, docs, top_n=n)
        errors += check_results("--top-n %d" % n, out, docs, want, min(n, len(docs)))
        # The kept results are the first n of the full ranking, scores unchanged.
        if [r["index"] for r in out["results"]] != [r["index"] for r in full["results"]][:n]:
            errors.append("--top-n %d is not the head of the full ranking" % n)

    # Input order does not change a document's score or its reported index.
    perm = [7, 2, 9, 0, 5, 1, 8, 3, 6, 4]
    shuffled = [docs[i] for i in perm]
    got, _ = engine.rerank_scores(path, common.QUERY, shuffled)
    if not common.compare("shuffled input", got, want[perm], 1e-4):
        errors.append("shuffled scores differ")

    for e in errors:
        print("FAIL: " + e)
    print("PASS" if not errors else "FAIL")
    return 0 if not errors else 1


if __name__ == "__main__":
    sys.exit(main(sys.argv))
