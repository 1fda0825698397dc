#!/usr/bin/env python3
"""make_golden.py - the official Qwen3 code's answers on qrank's synthetic models.

  make_golden.py QRANK MODELS_DIR OUT_JSON

Needs torch and transformers, which Debian 12 does not package; it runs where they are
installed (the numbers in golden.json were made this way on a machine that had them, see
README.md) and exits 77 (skipped) elsewhere. check_golden.py then holds qrank to the file on
every machine, CI included.

What "official" means here, word for word from the model cards:
- reranker: Qwen/Qwen3-Reranker-0.6B's transformers example: format_instruction, the prefix
  and suffix tokenized apart, the body tokenized with truncation='longest_first' to
  max_length - len(prefix) - len(suffix), left padding, logits[:, -1, :] at the "yes"/"no"
  ids, log_softmax, exp. transformers' Qwen3ForCausalLM does the forward pass.
- embedder: Qwen/Qwen3-Embedding-0.6B's transformers example: left padding, last-token
  pooling, F.normalize. The real embedder's tokenizer appends <|endoftext|> itself; the
  synthetic directories carry the reranker's tokenizer, so it is appended here by hand.
Each is run twice: batched in float32, as the cards do, and one text at a time in float64.
golden.json keeps the float64 numbers; the float32 ones are printed, to show the gap.

MODELS_DIR holds the reference suite's models (tests/reference/make_models.py); the missing
ones are made here with tools/make_model.py. Their sha256 go into the golden file, so a
generator that no longer makes the same weights is caught before any score is compared.
"""
import datetime
import hashlib
import json
import math
import os
import platform
import sys

HERE = os.path.dirname(os.path.abspath(__file__))
sys.path.insert(0, HERE)
import cases  # noqa: E402
import common  # noqa: E402  (tests/reference, put on the path by cases)
import make_models  # noqa: E402
import qwen3_ref  # noqa: E402

SKIP = 77


def model_hashes(path):
    out = {}
    for name in sorted(os.listdir(path)):
        if name.endswith((".json", ".safetensors")):
            with open(os.path.join(path, name), "rb") as f:
                out[name] = hashlib.sha256(f.read()).hexdigest()
    return out


def ensure_models(models_dir, names):
    source = os.path.dirname(os.path.dirname(HERE))
    generator = os.path.join(source, "tools", "make_model.py")
    table = common.model_table()
    os.makedirs(models_dir, exist_ok=True)
    for name in names:
        gen_args, fname, post = table[name]
        err = make_models.make_one(generator, models_dir, name, gen_args, fname, post)
        if err:
            raise RuntimeError(err)


def load(cls, path, torch, dtype):
    try:
        m = cls.from_pretrained(path, dtype=dtype, attn_implementation="eager")
    except TypeError:  # transformers before 4.56 names it torch_dtype
        m = cls.from_pretrained(path, torch_dtype=dtype, attn_implementation="eager")
    return m.eval()


# ---- the model card's reranker code ------------------------------------------------------------

PREFIX = ("<|im_start|>system\nJudge whether the Document meets the requirements based on the Query "
          "and the Instruct provided. Note that the answer can only be \"yes\" or \"no\".<|im_end|>\n"
          "<|im_start|>user\n")
SUFFIX = "<|im_end|>\n<|im_start|>assistant\n<think>\n\n</think>\n\n"


def format_instruction(instruction, query, doc):
    if instruction is None:
        instruction = "Given a web search query, retrieve relevant passages that answer the query"
    return "<Instruct>: {instruction}\n<Query>: {query}\n<Document>: {doc}".format(
        instruction=instruction, query=query, doc=doc)


def official_rerank(torch, tokenizer, model32, model64, query, instruction, docs, max_length):
    prefix_tokens = tokenizer.encode(PREFIX, add_special_tokens=False)
    suffix_tokens = tokenizer.encode(SUFFIX, add_special_tokens=False)
    token_false_id = tokenizer.convert_tokens_to_ids("no")
    token_true_id = tokenizer.convert_tokens_to_ids("yes")
    pairs = [format_instruction(instruction, query, d) for d in docs]
    inputs = tokenizer(pairs, padding=False, truncation="longest_first", return_attention_mask=False,
                       max_length=max_length - len(prefix_tokens) - len(suffix_tokens))
    for i, ele in enumerate(inputs["input_ids"]):
        inputs["input_ids"][i] = prefix_tokens + ele + suffix_tokens
    prompts = [list(map(int, p)) for p in inputs["input_ids"]]
    inputs = tokenizer.pad(inputs, padding=True, return_tensors="pt", max_length=max_length)

    def scores_of(model, batch):
        with torch.no_grad():
            batch_scores = model(**batch).logits[:, -1, :]
        true_vector = batch_scores[:, token_true_id]
        false_vector = batch_scores[:, token_false_id]
        batch_scores = torch.stack([false_vector, true_vector], dim=1)
        batch_scores = torch.nn.functional.log_softmax(batch_scores, dim=1)
        return batch_scores[:, 1].exp().tolist()

    f32 = scores_of(model32, inputs)
    f64 = []
    for p in prompts:
        one = {"input_ids": torch.tensor([p]), "attention_mask": torch.ones(1, len(p), dtype=torch.long)}
        f64 += scores_of(model64, one)
    return prompts, f32, f64, (token_true_id, token_false_id)


# ---- the model card's embedder code ---------------------------------------------------------

def last_token_pool(torch, last_hidden_states, attention_mask):
    left_padding = (attention_mask[:, -1].sum() == attention_mask.shape[0])
    if left_padding:
        return last_hidden_states[:, -1]
    sequence_lengths = attention_mask.sum(dim=1) - 1
    batch_size = last_hidden_states.shape[0]
    return last_hidden_states[torch.arange(batch_size, device=last_hidden_states.device), sequence_lengths]


def official_embed(torch, tokenizer, model32, model64, texts):
    F = torch.nn.functional
    ids = [tokenizer(t, add_special_tokens=False)["input_ids"] + [common.ENDOFTEXT] for t in texts]
    batch = tokenizer.pad({"input_ids": ids}, padding=True, return_tensors="pt")
    with torch.no_grad():
        out = model32(**batch)
    v32 = F.normalize(last_token_pool(torch, out.last_hidden_state, batch["attention_mask"]), p=2, dim=1)
    v64 = []
    for p in ids:
        with torch.no_grad():
            h = model64(input_ids=torch.tensor([p]), attention_mask=torch.ones(1, len(p), dtype=torch.long))
        v64.append(F.normalize(h.last_hidden_state[:, -1], p=2, dim=1)[0].tolist())
    return ids, v32.tolist(), v64


def main(argv):
    if len(argv) != 4:
        print(__doc__.strip().split("\n\n")[0], file=sys.stderr)
        return 2
    qrank, models_dir, out_json = argv[1:]
    try:
        import torch
        import transformers
        from transformers import AutoModel, AutoModelForCausalLM, AutoTokenizer
    except ImportError as e:
        print("SKIPPED: the official Qwen3 code needs torch and transformers (%s); "
              "golden.json was made where they are installed, see README.md" % e)
        return SKIP
    torch.set_num_threads(max(1, os.cpu_count() or 1))

    names = cases.RERANK_MODELS + [cases.EMBED_MODEL]
    ensure_models(models_dir, names)
    engine = common.Engine(qrank, models_dir)
    golden = {
        "made_with": {"torch": torch.__version__, "transformers": transformers.__version__,
                      "python": platform.python_version(), "numpy": qwen3_ref.np.__version__,
                      "date": datetime.date.today().isoformat()},
        "models": {n: model_hashes(engine.model_path(n)) for n in names},
        "tokens": [], "rerank": [], "embed": [],
    }
    worst = {"qrank-f64": 0.0, "ref-f64": 0.0, "f32-f64": 0.0}
    failures = []

    first = engine.model_path(cases.RERANK_MODELS[0])
    tokenizer = AutoTokenizer.from_pretrained(first, padding_side="left")
    texts = cases.token_texts()
    ours = engine.tokenize(first, texts)
    bad = 0
    for t, mine in zip(texts, ours):
        theirs = tokenizer(t, add_special_tokens=False)["input_ids"]
        golden["tokens"].append([t, theirs])
        if theirs != mine:
            bad += 1
            print("TOKENS DIFFER %r\n  official %s\n  qrank    %s" % (t, theirs, mine))
    print("tokens: %d texts, %d differ" % (len(texts), bad))
    if bad:
        failures.append("%d tokenizations differ" % bad)

    for name in cases.RERANK_MODELS:
        path = engine.model_path(name)
        tokenizer = AutoTokenizer.from_pretrained(path, padding_side="left")
        model32 = load(AutoModelForCausalLM, path, torch, torch.float32)
        model64 = load(AutoModelForCausalLM, path, torch, torch.float64)
        ref = qwen3_ref.Model(path)
        for case, query, instruction, docs, max_length in cases.RERANK_CASES:
            prompts, f32, f64, yes_no = official_rerank(torch, tokenizer, model32, model64, query,
                                                        instruction, docs, max_length)
            if yes_no != (9693, 2152):
                failures.append("yes/no ids %r" % (yes_no,))
            ours = common.RerankPrompts(engine, path, query, docs, instruction, max_length)
            if ours.prompts != prompts:
                failures.append("%s %s: the official prompt ids differ from the test suite's" % (name, case))
            got, _ = engine.rerank_scores(path, query, docs, instruction=instruction,
                                          max_length=max_length, precision="exact")
            refs = [qwen3_ref.rerank_score(ref, p) for p in prompts]
            d_q = max(abs(a - b) for a, b in zip(got, f64))
            d_r = max(abs(a - b) for a, b in zip(refs, f64))
            d_32 = max(abs(a - b) for a, b in zip(f32, f64))
            worst["qrank-f64"] = max(worst["qrank-f64"], d_q)
            worst["ref-f64"] = max(worst["ref-f64"], d_r)
            worst["f32-f64"] = max(worst["f32-f64"], d_32)
            print("%s %-18s %2d docs  scores %.4f..%.4f  |qrank-official| %.2e  |reference-official| "
                  "%.2e  |official f32-f64| %.2e" % (name, case, len(docs), min(f64), max(f64), d_q, d_r, d_32))
            if d_q > 1e-4:
                failures.append("%s %s: qrank exact is %.2e off the official scores" % (name, case, d_q))
            if d_r > 1e-5:
                failures.append("%s %s: the float64 reference is %.2e off" % (name, case, d_r))
            golden["rerank"].append({"model": name, "case": case, "query": query, "instruction": instruction,
                                     "max_length": max_length, "documents": docs, "prompt_ids": prompts,
                                     "scores": f64, "scores_f32_batched": f32})
        del model32, model64

    path = engine.model_path(cases.EMBED_MODEL)
    tokenizer = AutoTokenizer.from_pretrained(path, padding_side="left")
    model32 = load(AutoModel, path, torch, torch.float32)
    model64 = load(AutoModel, path, torch, torch.float64)
    for case, instruction, texts in cases.EMBED_CASES:
        inputs = cases.embed_inputs(instruction, texts)
        ids, v32, v64 = official_embed(torch, tokenizer, model32, model64, inputs)
        got = engine.embed(path, texts, instruction=instruction, precision="exact")
        cos = min(float(sum(a * b for a, b in zip(g, v))) for g, v in zip(got, v64))
        comp = max(max(abs(a - b) for a, b in zip(g, v)) for g, v in zip(got, v64))
        gap = max(max(abs(a - b) for a, b in zip(u, v)) for u, v in zip(v32, v64))
        print("%s %-8s %d texts  min cos(qrank, official) %.7f  max |component| diff %.2e  "
              "|official f32-f64| %.2e" % (cases.EMBED_MODEL, case, len(texts), cos, comp, gap))
        if cos < 0.9999 or comp > 1e-4:
            failures.append("%s %s: qrank exact embeddings off (cos %.6f, %.2e)" % (cases.EMBED_MODEL, case, cos, comp))
        for v in v64:
            if abs(math.sqrt(sum(x * x for x in v)) - 1) > 1e-9:
                failures.append("official vector not unit length")
        golden["embed"].append({"model": cases.EMBED_MODEL, "case": case, "instruction": instruction,
                                "texts": texts, "input_ids": ids, "vectors": v64})

    with open(out_json, "w", encoding="utf-8") as f:
        json.dump(golden, f, ensure_ascii=False, indent=1)
        f.write("\n")
    print("worst: " + ", ".join("%s %.2e" % kv for kv in worst.items()))
    print("wrote %s" % out_json)
    for msg in failures:
        print("FAIL: " + msg)
    return 1 if failures else 0


if __name__ == "__main__":
    sys.exit(main(sys.argv))
