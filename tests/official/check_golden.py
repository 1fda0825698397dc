#!/usr/bin/env python3
"""check_golden.py - qrank against the official Qwen3 code's answers in golden.json.

  check_golden.py QRANK MODELS_DIR GOLDEN_JSON

golden.json was made by make_golden.py with torch and transformers (README.md says where
and how). This check needs neither: it regenerates nothing official, it only compares.
1. The models in MODELS_DIR (the reference suite's fixture) must be byte for byte the ones
   the golden numbers came from (sha256 of config.json and the safetensors); if the
   generator changed, the file must be made again, and this says so instead of failing on
   scores.
2. `qrank tokenize` must give the official tokenizer's ids for every text.
3. The reranker prompts the test suite builds from qrank's ids (common.RerankPrompts) must be
   the ids the model card's code fed the model, truncation included.
4. `qrank rerank --precision exact` within 1e-4 of the official float64 P(yes), and the
   float64 reference (qwen3_ref.py) within 1e-5 of it on the same ids; `--precision fast`
   (BF16 weights: bf16 activations) within issue 6's bf16 limits, max 0.015 and mean 0.003.
5. `qrank embed --precision exact`: cosine >= 0.9999 and every component within 1e-4 of the
   official vector, also cut to 32 dimensions and re-normalised (MRL).
"""
import hashlib
import json
import os
import sys

import numpy as np

HERE = os.path.dirname(os.path.abspath(__file__))
sys.path.insert(0, HERE)
import cases  # noqa: E402,F401  (puts tests/reference on the path)
import common  # noqa: E402
import qwen3_ref  # noqa: E402


def sha256(path):
    with open(path, "rb") as f:
        return hashlib.sha256(f.read()).hexdigest()


def main(argv):
    if len(argv) != 4:
        print(__doc__.strip().split("\n\n")[0], file=sys.stderr)
        return 2
    qrank, models_dir, golden_path = argv[1:]
    with open(golden_path, encoding="utf-8") as f:
        golden = json.load(f)
    engine = common.Engine(qrank, models_dir)
    failures = []

    def check(ok, msg):
        if not ok:
            failures.append(msg)
            print("FAIL: " + msg)

    made = golden["made_with"]
    print("golden made with torch %s, transformers %s on %s" % (made["torch"], made["transformers"], made["date"]))
    for name, hashes in golden["models"].items():
        path = engine.model_path(name)
        for fname, want in hashes.items():
            got = sha256(os.path.join(path, fname))
            if got != want:
                print("FAIL: %s/%s is not the file golden.json was made from (sha256 %s, golden %s): "
                      "tools/make_model.py or its arguments changed; make golden.json again with "
                      "make_golden.py (README.md)" % (name, fname, got[:16], want[:16]))
                return 1
    print("models: %d, byte for byte the golden's" % len(golden["models"]))

    first = engine.model_path(cases.RERANK_MODELS[0])
    texts = [t for t, _ in golden["tokens"]]
    ours = engine.tokenize(first, texts)
    bad = [(t, want, got) for (t, want), got in zip(golden["tokens"], ours) if want != got]
    for t, want, got in bad[:5]:
        print("  %r\n    official %s\n    qrank    %s" % (t, want, got))
    check(not bad, "%d of %d texts tokenize differently from the official tokenizer" % (len(bad), len(texts)))
    print("tokens: %d texts, %d differ" % (len(texts), len(bad)))

    refs, spread = {}, {}
    for g in golden["rerank"]:
        name, case = g["model"], g["case"]
        path = engine.model_path(name)
        docs, want = g["documents"], np.array(g["scores"])
        prompts = common.RerankPrompts(engine, path, g["query"], docs, g["instruction"], g["max_length"])
        check(prompts.prompts == g["prompt_ids"], "%s %s: prompt ids differ from the official code's" % (name, case))
        exact, out = engine.rerank_scores(path, g["query"], docs, instruction=g["instruction"],
                                          max_length=g["max_length"], precision="exact")
        fast, _ = engine.rerank_scores(path, g["query"], docs, instruction=g["instruction"],
                                       max_length=g["max_length"], precision="fast")
        if path not in refs:
            refs[path] = qwen3_ref.Model(path)
        ref = np.array([qwen3_ref.rerank_score(refs[path], p) for p in g["prompt_ids"]])
        d_exact = float(np.max(np.abs(exact - want)))
        d_ref = float(np.max(np.abs(ref - want)))
        d_fast = np.abs(fast - want)
        print("%s %-18s %2d docs  exact %.2e  reference %.2e  fast max %.4f mean %.4f  (scores %.3f..%.3f)"
              % (name, case, len(docs), d_exact, d_ref, d_fast.max(), d_fast.mean(), want.min(), want.max()))
        check(d_exact <= 1e-4, "%s %s: qrank exact is %.2e off the official scores" % (name, case, d_exact))
        check(d_ref <= 1e-5, "%s %s: the float64 reference is %.2e off the official scores" % (name, case, d_ref))
        check(d_fast.max() <= 0.015 and d_fast.mean() <= 0.003,
              "%s %s: fast (bf16) is off by max %.4f, mean %.4f" % (name, case, d_fast.max(), d_fast.mean()))
        check(out["usage"]["prompt_tokens"] == sum(len(p) for p in g["prompt_ids"]),
              "%s %s: usage.prompt_tokens %d, official prompts %d tokens"
              % (name, case, out["usage"]["prompt_tokens"], sum(len(p) for p in g["prompt_ids"])))
        spread.setdefault(name, []).extend(g["scores"])

    for name, s in spread.items():
        check(max(s) - min(s) > 0.05, "%s: official scores spread only %.3f; the check proves little"
              % (name, max(s) - min(s)))

    for g in golden["embed"]:
        path = engine.model_path(g["model"])
        want = [np.array(v) for v in g["vectors"]]
        ids = common.embed_ids(engine, path, g["texts"], g["instruction"])
        check(ids == g["input_ids"], "%s %s: embedder input ids differ" % (g["model"], g["case"]))
        for dims in (None, cases.EMBED_DIMS):
            got = engine.embed(path, g["texts"], instruction=g["instruction"], dims=dims, precision="exact")
            if dims is not None:
                want_d = [w[:dims] / np.linalg.norm(w[:dims]) for w in want]
            else:
                want_d = want
            cos = min(float(a @ b) for a, b in zip(got, want_d))
            comp = max(float(np.max(np.abs(a - b))) for a, b in zip(got, want_d))
            print("%s %-8s dims %-4s min cos %.7f  max component diff %.2e"
                  % (g["model"], g["case"], dims or len(want[0]), cos, comp))
            check(cos >= 0.9999 and comp <= 1e-4, "%s %s dims %s: exact embeddings off (cos %.6f, %.2e)"
                  % (g["model"], g["case"], dims, cos, comp))

    print("%d failures" % len(failures))
    return 1 if failures else 0


if __name__ == "__main__":
    sys.exit(main(sys.argv))
