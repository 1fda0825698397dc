"""common.py - what every reference test driver shares: the table of test
models, how to call the qrank CLI, and how a prompt is built from token ids.

Prompts are built here, not by the engine: the reranker prompt is
prefix ids + ids(body) + suffix ids with the body tokenized as ONE string, as
the official Qwen3-Reranker code does. The engine splits the body into a
shared part and " " + document; comparing against the one-string form proves
that split equivalent. Only tok(text) comes from the engine (`qrank tokenize`),
and the tokenizer is proven exact separately by the golden tokenizer test.
The template's special ids are written out here from MODEL.md.
"""

import json
import os
import subprocess
import sys
import tempfile

import numpy as np

IM_START, IM_END, ENDOFTEXT = 151644, 151645, 151643
SYSTEM_TEXT = ('system\nJudge whether the Document meets the requirements based on the Query and '
               'the Instruct provided. Note that the answer can only be "yes" or "no".')
SUFFIX_IDS = [IM_END, 198, IM_START, 77091, 198, 151667, 271, 151668, 271]
DEFAULT_INSTRUCTION = "Given a web search query, retrieve relevant passages that answer the query"

# The test models: name -> make_model.py arguments. Shapes are tiny so the
# whole suite runs in seconds; each one stresses something different.
SHAPES = {
    # head_dim (32) != hidden/heads (16); two query heads per KV head
    "A": ["--layers", "2", "--hidden", "64", "--ffn", "128", "--heads", "4", "--kv-heads", "2",
          "--head-dim", "32", "--seed", "11"],
    # four query heads per KV head, small head_dim, three layers
    "B": ["--layers", "3", "--hidden", "96", "--ffn", "160", "--heads", "8", "--kv-heads", "2",
          "--head-dim", "16", "--seed", "22"],
    # no grouping (heads == KV heads), head_dim 48 (not a power of two), and
    # RoPE base / RMSNorm eps other than Qwen3's, so both must come from the file
    "C": ["--layers", "2", "--hidden", "64", "--ffn", "96", "--heads", "2", "--kv-heads", "2",
          "--head-dim", "48", "--seed", "33", "--rope-theta", "10000", "--eps", "1e-3"],
    # rows of whole 256-value super-blocks, for the k-quants (Q4_K, Q6_K)
    "D": ["--layers", "2", "--hidden", "256", "--ffn", "512", "--heads", "4", "--kv-heads", "2",
          "--head-dim", "64", "--seed", "55"],
    # the embedder: shape A with its own seed
    "E": ["--layers", "2", "--hidden", "64", "--ffn", "128", "--heads", "4", "--kv-heads", "2",
          "--head-dim", "32", "--seed", "44"],
    # an embedder with whole super-blocks, for Qwen3-Embedding's Q4_K_M files:
    # shape D with its own seed
    "F": ["--layers", "2", "--hidden", "256", "--ffn", "512", "--heads", "4", "--kv-heads", "2",
          "--head-dim", "64", "--seed", "66"],
}
FORMATS = {
    "gguf-f32": ["--format", "gguf", "--dtype", "f32"],
    "gguf-f16": ["--format", "gguf", "--dtype", "f16"],
    "gguf-bf16": ["--format", "gguf", "--dtype", "bf16"],
    "gguf-q8_0": ["--format", "gguf", "--dtype", "q8_0"],
    "hf-bf16": ["--format", "hf", "--dtype", "bf16"],
}


def model_table():
    """name -> (make_model.py arguments, file name, post-processing step or None)."""
    table = {}
    for shape in "ABC":
        shape_args = SHAPES[shape]
        for fmt, fmt_args in FORMATS.items():
            name = "%s-%s" % (shape, fmt)
            table[name] = (shape_args + fmt_args + ["--kind", "reranker"], file_name(name), None)
    # Three shards whose tensor names drop the "model." prefix (as Qwen3-Embedding stores them).
    table["A-hf-sharded"] = (SHAPES["A"] + FORMATS["hf-bf16"] + ["--kind", "reranker", "--shards", "3",
                                                                 "--no-prefix"], "A-hf-sharded", None)
    # No cls.output.weight: the yes/no rows come from the tied embeddings (9693, 2152).
    table["B-gguf-f32-tied"] = (SHAPES["B"] + FORMATS["gguf-f32"] + ["--kind", "reranker", "--no-cls"],
                                "B-gguf-f32-tied.gguf", None)
    # The generator's cls rows equal the tied rows (as llama.cpp's converter
    # makes them), so an engine that ignored cls.output would pass the others.
    # Here the two rows are swapped in the file: P(yes) becomes 1 - P(yes).
    table["B-gguf-f32-cls-swapped"] = (SHAPES["B"] + FORMATS["gguf-f32"] + ["--kind", "reranker"],
                                       "B-gguf-f32-cls-swapped.gguf", "swap-cls-rows")
    # Embedding table padded past the tokenizer's 151,669 tokens, as some GGUFs are.
    table["C-gguf-q8_0-padded"] = (SHAPES["C"] + FORMATS["gguf-q8_0"] + ["--kind", "reranker",
                                                                          "--vocab-rows", "151936"],
                                   "C-gguf-q8_0-padded.gguf", None)
    # The quantised types llama.cpp users download most (Q4_K_M mixes Q4_K and Q6_K).
    for dtype in ("q4_0", "q4_k", "q6_k", "q4_k_m"):
        name = "D-gguf-%s" % dtype
        table[name] = (SHAPES["D"] + ["--format", "gguf", "--dtype", dtype, "--kind", "reranker"],
                       file_name(name), None)
    for fmt in ("gguf-f32", "gguf-f16", "gguf-q8_0", "hf-bf16"):
        name = "E-%s" % fmt
        table[name] = (SHAPES["E"] + FORMATS[fmt] + ["--kind", "embedder"], file_name(name), None)
    table["F-gguf-q4_k_m"] = (SHAPES["F"] + ["--format", "gguf", "--dtype", "q4_k_m", "--kind", "embedder"],
                              file_name("F-gguf-q4_k_m"), None)
    return table


def file_name(name):
    return name if "-hf-" in name else name + ".gguf"


class Engine:
    """The qrank command line, called the way a user would."""

    def __init__(self, qrank, models_dir):
        self.qrank = qrank
        self.models_dir = models_dir
        self.calls = 0
        self.token_cache = {}

    def model_path(self, name):
        return os.path.join(self.models_dir, model_table()[name][1])

    def run(self, args, stdin_text=None):
        self.calls += 1
        # Idle OpenMP threads sleep instead of spinning: these are correctness
        # tests, and spinning threads on a busy 2-core machine only cost time.
        env = dict(os.environ, OMP_WAIT_POLICY="passive")
        proc = subprocess.run([self.qrank] + args, input=stdin_text, capture_output=True,
                              text=True, encoding="utf-8", env=env)
        if proc.returncode != 0:
            raise RuntimeError("qrank %s: exit %d\nstderr: %s"
                               % (" ".join(args), proc.returncode, proc.stderr.strip()))
        return proc.stdout

    def tokenize(self, model, texts):
        """Ids of each string, from one `qrank tokenize --json-lines` call for those
        not seen before (per model; starting the CLI costs more than tokenizing)."""
        cache = self.token_cache.setdefault(model, {})
        todo = list(dict.fromkeys(t for t in texts if t not in cache))
        if todo:
            with tempfile.NamedTemporaryFile("w", encoding="utf-8", suffix=".jsonl", delete=False) as f:
                for t in todo:
                    f.write(json.dumps(t, ensure_ascii=False) + "\n")
                path = f.name
            try:
                out = self.run(["tokenize", "-m", model, "--json-lines", "-f", path])
            finally:
                os.unlink(path)
            lines = [ln for ln in out.split("\n") if ln.strip()]
            if len(lines) != len(todo):
                raise RuntimeError("tokenize: %d inputs, %d output lines" % (len(todo), len(lines)))
            for t, ln in zip(todo, lines):
                row = json.loads(ln)
                if not isinstance(row, list) or not all(isinstance(i, int) for i in row):
                    raise RuntimeError("tokenize: not an array of ints: %r" % (row,))
                cache[t] = row
        return [list(cache[t]) for t in texts]

    def rerank(self, model, query, docs, instruction=None, top_n=None, max_length=None,
               precision="exact", via_stdin=False):
        """Runs `qrank rerank --json`; returns the parsed JSON object."""
        for d in docs:
            if "\n" in d or "\r" in d:
                raise ValueError("documents are one per line: %r" % d)
        args = ["rerank", "-m", model, "-q", query, "--precision", precision, "--json"]
        if instruction is not None:
            args += ["-i", instruction]
        if top_n is not None:
            args += ["--top-n", str(top_n)]
        if max_length is not None:
            args += ["--max-length", str(max_length)]
        text = "".join(d + "\n" for d in docs)
        if via_stdin:
            return json.loads(self.run(args, stdin_text=text))
        with tempfile.NamedTemporaryFile("w", encoding="utf-8", suffix=".txt", delete=False) as f:
            f.write(text)
            path = f.name
        try:
            return json.loads(self.run(args + ["-f", path]))
        finally:
            os.unlink(path)

    def rerank_scores(self, model, query, docs, **kw):
        """Scores in input order (from the `index` field of each result)."""
        out = self.rerank(model, query, docs, **kw)
        scores = [None] * len(docs)
        for r in out["results"]:
            scores[r["index"]] = r["relevance_score"]
        if any(s is None for s in scores):
            raise RuntimeError("rerank: not every document has a result")
        return np.array(scores, dtype=np.float64), out

    def embed(self, model, texts, instruction=None, dims=None, precision="exact"):
        args = ["embed", "-m", model, "--precision", precision]
        if instruction is not None:
            args += ["-i", instruction]
        if dims is not None:
            args += ["--dims", str(dims)]
        with tempfile.NamedTemporaryFile("w", encoding="utf-8", suffix=".txt", delete=False) as f:
            f.write("".join(t + "\n" for t in texts))
            path = f.name
        try:
            out = self.run(args + ["-f", path])
        finally:
            os.unlink(path)
        rows = [json.loads(ln) for ln in out.split("\n") if ln.strip()]
        if len(rows) != len(texts):
            raise RuntimeError("embed: %d inputs, %d output lines" % (len(texts), len(rows)))
        return [np.array(r, dtype=np.float64) for r in rows]


def rerank_body(query, doc, instruction=None):
    return "<Instruct>: %s\n<Query>: %s\n<Document>: %s" % (
        instruction if instruction else DEFAULT_INSTRUCTION, query, doc)


def prefetch_rerank_tokens(engine, model, query, docs, instructions):
    """Tokenizes every piece the prompts of several instructions need, in one call."""
    engine.tokenize(model, [SYSTEM_TEXT, "\n", "user\n"]
                    + [rerank_body(query, d, i) for i in instructions for d in docs])


class RerankPrompts:
    """The official prompt in ids: prefix + body (one string, tail-truncated) + suffix."""

    def __init__(self, engine, model, query, docs, instruction=None, max_length=8192):
        pieces = [SYSTEM_TEXT, "\n", "user\n"] + [rerank_body(query, d, instruction) for d in docs]
        ids = engine.tokenize(model, pieces)
        self.prefix = [IM_START] + ids[0] + [IM_END] + ids[1] + [IM_START] + ids[2]
        check_prefix(self.prefix)
        budget = max_length - len(self.prefix) - len(SUFFIX_IDS)
        self.full_bodies = ids[3:]
        self.bodies = [b[:budget] for b in self.full_bodies]  # the tail goes first
        self.prompts = [self.prefix + b + SUFFIX_IDS for b in self.bodies]
        self.truncated = [len(b) > budget for b in self.full_bodies]
        self.prompt_tokens = sum(len(p) for p in self.prompts)


def check_prefix(prefix):
    # MODEL.md: 39 tokens, 151644, 8948, 198, 60256, ..., 151645, 198, 151644, 872, 198
    if (len(prefix) != 39 or prefix[:4] != [151644, 8948, 198, 60256]
            or prefix[-5:] != [151645, 198, 151644, 872, 198]):
        raise RuntimeError("reranker prefix is not MODEL.md's 39 tokens: %r" % (prefix,))


def embed_ids(engine, model, texts, instruction=None):
    if instruction is not None:
        texts = ["Instruct: %s\nQuery:%s" % (instruction, t) for t in texts]
    return [ids + [ENDOFTEXT] for ids in engine.tokenize(model, texts)]


# Ten varied documents for one query: scripts, emoji, a special-token string
# that must stay plain text, an almost empty one and a longer one.
QUERY = "What is the capital of China?"
DOCS = [
    "The capital of China is Beijing.",
    "北京是中华人民共和国的首都，也是全国的政治、文化和国际交往中心。",
    "Gravity is a force that attracts two bodies towards each other.",
    "混合 text: Python 的 list comprehension 很好用, 对吧? 🐍",
    "🎉🎊 party time 🥳✨ 👩‍👩‍👧‍👦",
    "ok",
    "A tricky one <|im_end|> with <|im_start|>assistant special strings inside <think>",
    "Seoul is the capital of South Korea; Tokyo is the capital of Japan.",
    "C'est la vie: naïve café, Ünïcödé façade — ça va? 3.14159 and 0x1F",
    ("Beijing, historically known as Peking, has been the political centre of China for most of "
     "the past eight centuries. The city is known for its palaces, temples, parks, gardens, tombs, "
     "walls and gates, and its art treasures and universities have made it a centre of culture "
     "and art in the country. 北京有三千多年的建城史。 It hosted the 2008 Summer Olympics and "
     "the 2022 Winter Olympics, the first city to host both."),
]
INSTRUCTION = "Given a question, find passages written in Chinese that answer it"


def compare(label, got, want, tol, out=sys.stdout):
    """Prints the comparison; returns True when every |got - want| <= tol."""
    got = np.asarray(got, dtype=np.float64)
    want = np.asarray(want, dtype=np.float64)
    diff = np.abs(got - want)
    ok = got.shape == want.shape and bool(np.all(diff <= tol))
    out.write("%-44s n=%-3d max|diff| %.3e  mean|diff| %.3e  tol %.0e  %s\n"
              % (label, got.size, diff.max(), diff.mean(), tol, "ok" if ok else "FAIL"))
    return ok


PINS = (("QRANK_KERNELS", "kernels:"), ("QRANK_ATTENTION", "fast attention:"))


# What `qrank info` may say --precision fast rounds activations to, per weight type, so that the
# engine cannot choose looser bounds for itself: Q8_0 and BF16 round on every table, the k-quants
# not on the generic one (no int8 kernel for them) nor without a laid-out copy (repack -1, which
# the CLI never asks for), F16 only on amx.
# BF16 "f32": tables without vdpbf16ps (avx512vnni, for CPUs without AVX-512 BF16) run BF16
# exactly, as the "where the CPU has a faster instruction for it" has it.
FAST_ALLOWED = {"Q8_0": ("int8",), "BF16": ("bf16", "f32"), "F32": ("f32",), "F16": ("bf16", "f32"),
                "Q4_0": ("int8", "f32"), "Q4_K": ("int8", "f32"), "Q6_K": ("int8", "f32")}


def fast_activations(engine, path, wtype):
    """What `qrank info` says --precision fast rounds the matrices' activations
    to for this model (of weight type wtype) on this CPU: "int8", "bf16" or
    "f32" (nothing). RuntimeError where that is not one FAST_ALLOWED gives wtype."""
    info = engine.run(["info", "-m", path])
    line = next((l for l in info.splitlines() if l.startswith("fast matrices:")), "")
    words = line[len("fast matrices:"):].split()
    kind = words[0] if words else None
    if kind not in FAST_ALLOWED.get(wtype, ()):
        raise RuntimeError("qrank info says fast rounds %s weights' activations to %r, expected one of %s"
                           % (wtype, kind, FAST_ALLOWED.get(wtype, ())))
    return kind


def check_pins(engine, names):
    """With QRANK_KERNELS or QRANK_ATTENTION in the environment (a test that
    pins a kernel table or an attention path): 77 (skipped, the reason
    printed) where this CPU or OS cannot run them; otherwise True when
    `qrank info` reports each pinned choice for every model (printed FAIL
    where not), and True with nothing pinned."""
    pinned = [(var, os.environ[var], key) for var, key in PINS if os.environ.get(var)]
    if not pinned:
        return True
    probe = subprocess.run([engine.qrank, "info", "-m", engine.model_path(names[0])], capture_output=True, text=True)
    if probe.returncode != 0 and ("cannot run them" in probe.stderr or "have none" in probe.stderr):
        print("skipped: this CPU (or OS) cannot run %s: %s"
              % (", ".join("%s=%s" % (var, want) for var, want, _ in pinned), probe.stderr.strip()))
        return 77
    ok = True
    for name in names:
        info = engine.run(["info", "-m", engine.model_path(name)])
        for var, want, key in pinned:
            line = next((l for l in info.splitlines() if l.startswith(key)), "")
            # "kernels: amx" or "kernels: amx, 1.0 MB of matrices ..." names the table first,
            # "fast attention: bf16 amx" the kind first
            got = line[len(key):].replace(",", " ").split()
            if not got or got[0] != want:
                print("%-22s %s=%s but %r  FAIL" % (name, var, want, line))
                ok = False
    return ok


def args_qrank_models(argv):
    """Every driver is run as: driver.py QRANK_BINARY MODELS_DIR [options]."""
    if len(argv) < 3:
        sys.stderr.write("usage: %s QRANK_BINARY MODELS_DIR [options]\n" % argv[0])
        sys.exit(2)
    return Engine(argv[1], argv[2]), argv[3:]
