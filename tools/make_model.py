#!/usr/bin/python3
"""make_model.py - writes seeded random-weight Qwen3 rerankers/embedders with the
real Qwen3 tokenizer, as GGUF (llama.cpp's layout) or as a Hugging Face
directory (config.json + safetensors + tokenizer files).

Why it exists: tests and benchmarks need model files of every shape and weight
type without downloading gigabytes. Each tensor's f32 master values come from
its own generator seeded by (seed, tensor name), drawn row-major; GGUF and HF
files of one seed are therefore the same model up to the rounding of --dtype,
and a padded embedding (--vocab-rows) only appends rows.

Scales: matrices are normal with std gain/sqrt(fan_in), so activations keep
unit size through a few layers whatever --hidden is (0.02-ish at the real
0.6B shape); norm weights are 1 + small noise. The residual stream starts
from small embeddings so that attention over the document, not the last
token's own embedding, decides the final state; the "yes" (9693) and "no"
(2152) rows are scaled up so that P(yes) = sigmoid((E[yes] - E[no]) . h)
moves across (0, 1) from one document to the next.

Usage: make_model.py --out PATH --format gguf|hf [--dtype f32|f16|bf16|q8_0|q4_0|q4_k|q6_k|q4_k_m] ...
(see --help). Needs Python 3 and numpy only.

--random-bytes (GGUF, f32/f16/bf16/q8_0) needs no numpy: each tensor's bytes
come from Python's seeded generator, floats of random sign and mantissa
within one binade of the scale above, Q8_0 blocks of uniform int8 under one
scale per tensor. The same shapes and the same work per token, not the same
weights: for benchmarks on machines without numpy, not for the tests.
"""
import argparse
import json
import math
import os
import random
import shutil
import struct
import sys
import zlib

try:
    import numpy as np
except ImportError:  # --random-bytes needs none; everything else says so
    np = None

HERE = os.path.dirname(os.path.abspath(__file__))
TOKENIZER_DIR = os.path.join(HERE, "..", "data", "qwen3")

YES_ID, NO_ID = 9693, 2152
EOS_ID = 151643

# Weight scales (see the module docstring).
MATRIX_GAIN = 1.0
EMBED_STD = 0.05
YES_NO_GAIN = 1.0  # std of the yes/no rows x sqrt(hidden)
NORM_NOISE = 0.1

GGUF_TYPE = {"f32": 0, "f16": 1, "q4_0": 2, "q8_0": 8, "q4_k": 12, "q6_k": 14, "bf16": 30}
# llama_ftype (general.file_type): a pure q4_k file is what llama.cpp calls Q4_K_S
GGUF_FILE_TYPE = {"f32": 0, "f16": 1, "q4_0": 2, "q8_0": 7, "q4_k": 14, "q4_k_m": 15, "q6_k": 18,
                  "bf16": 32}
K_QUANTS = ("q4_k", "q6_k", "q4_k_m")
ST_DTYPE = {"f32": "F32", "f16": "F16", "bf16": "BF16"}
ALIGNMENT = 32

RERANK_TEMPLATE = (
    "<|im_start|>system\nJudge whether the Document meets the requirements based on the Query "
    'and the Instruct provided. Note that the answer can only be "yes" or "no".<|im_end|>\n'
    "<|im_start|>user\n<Instruct>: {instruction}\n<Query>: {query}\n<Document>: {document}"
    "<|im_end|>\n<|im_start|>assistant\n<think>\n\n</think>\n\n"
)


# ---- tokenizer ----------------------------------------------------------------------------

def load_tokenizer():
    with open(os.path.join(TOKENIZER_DIR, "tokenizer.json"), encoding="utf-8") as f:
        tok = json.load(f)
    vocab = tok["model"]["vocab"]
    added = tok["added_tokens"]
    n = max(max(vocab.values()), max(a["id"] for a in added)) + 1
    tokens = [None] * n
    types = [1] * n
    for text, i in vocab.items():
        tokens[i] = text
    for a in added:
        if tokens[a["id"]] is not None and tokens[a["id"]] != a["content"]:
            sys.exit("tokenizer.json: added token %d clashes with the vocabulary" % a["id"])
        tokens[a["id"]] = a["content"]
        types[a["id"]] = 3 if a["special"] else 4
    missing = [i for i, t in enumerate(tokens) if t is None]
    if missing:
        sys.exit("tokenizer.json: no token for ids %s" % missing[:10])
    merges = [m if isinstance(m, str) else " ".join(m) for m in tok["model"]["merges"]]
    return tokens, types, merges


# ---- weights ------------------------------------------------------------------------------

class Spec:
    """One tensor: canonical (HF, unprefixed) name, HF shape [out, in], and kind."""

    def __init__(self, name, shape, kind):
        self.name, self.shape, self.kind = name, tuple(shape), kind


def model_specs(a, rows):
    q_out, kv_out = a.heads * a.head_dim, a.kv_heads * a.head_dim
    specs = [Spec("embed_tokens.weight", (rows, a.hidden), "embed")]
    for i in range(a.layers):
        p = "layers.%d." % i
        specs += [
            Spec(p + "input_layernorm.weight", (a.hidden,), "norm"),
            Spec(p + "self_attn.q_proj.weight", (q_out, a.hidden), "matrix"),
            Spec(p + "self_attn.k_proj.weight", (kv_out, a.hidden), "matrix"),
            Spec(p + "self_attn.v_proj.weight", (kv_out, a.hidden), "matrix"),
            Spec(p + "self_attn.o_proj.weight", (a.hidden, q_out), "matrix"),
            Spec(p + "self_attn.q_norm.weight", (a.head_dim,), "norm"),
            Spec(p + "self_attn.k_norm.weight", (a.head_dim,), "norm"),
            Spec(p + "post_attention_layernorm.weight", (a.hidden,), "norm"),
            Spec(p + "mlp.gate_proj.weight", (a.ffn, a.hidden), "matrix"),
            Spec(p + "mlp.up_proj.weight", (a.ffn, a.hidden), "matrix"),
            Spec(p + "mlp.down_proj.weight", (a.hidden, a.ffn), "matrix"),
        ]
    specs.append(Spec("norm.weight", (a.hidden,), "norm"))
    return specs


def rng_for(seed, name):
    return np.random.default_rng([seed, zlib.crc32(name.encode())])


EMBED_CHUNK_VALUES = 1 << 24


def master_chunks(spec, seed, stop_row=None):
    """Yields (r0, r1, f32 rows) of a tensor's master values in row order, in
    chunks of bounded memory; one generator per tensor, so any chunking gives
    the same values."""
    rng = rng_for(seed, spec.name)
    if spec.kind == "norm":
        x = rng.standard_normal(spec.shape[0], dtype=np.float32)
        yield 0, spec.shape[0], (1.0 + NORM_NOISE * x).astype(np.float32)
        return
    rows, cols = spec.shape
    if stop_row is not None:
        rows = min(rows, stop_row)
    step = max(1, EMBED_CHUNK_VALUES // cols)
    for r0 in range(0, rows, step):
        r1 = min(rows, r0 + step)
        x = rng.standard_normal((r1 - r0, cols), dtype=np.float32)
        if spec.kind == "matrix":
            x *= np.float32(MATRIX_GAIN / np.sqrt(cols))
        else:
            x *= np.float32(EMBED_STD)
            for tid in (YES_ID, NO_ID):
                if r0 <= tid < r1:
                    x[tid - r0] *= np.float32(YES_NO_GAIN / np.sqrt(cols) / EMBED_STD)
        yield r0, r1, x


def master(spec, seed):
    """The whole tensor (tests and tools; the writers stream master_chunks)."""
    return np.concatenate([x for _, _, x in master_chunks(spec, seed)])


def embedding_rows(embed_spec, seed, ids):
    """Rows `ids` of the embedding, drawing only as far as the largest id."""
    need = max(ids) + 1
    got = np.concatenate([x for _, _, x in master_chunks(embed_spec, seed, stop_row=need)])
    return got[list(ids)]


# ---- conversions --------------------------------------------------------------------------

def to_bf16_bytes(x):
    u = np.ascontiguousarray(x, dtype=np.float32).view(np.uint32).astype(np.uint64)
    u = (u + 0x7FFF + ((u >> 16) & 1)) >> 16  # round to nearest even (no NaNs here)
    return u.astype("<u2").tobytes()


Q8_0_BLOCK = None if np is None else np.dtype([("d", "<f2"), ("qs", "i1", 32)])
assert np is None or Q8_0_BLOCK.itemsize == 34


def to_q8_0_bytes(x):
    """ggml's quantize_row_q8_0_ref: d = amax/127 (stored f16), q = roundf(x * (1/d))
    with the f32 d (gguf-py divides by d instead; the two differ only on exact ties)."""
    b = np.ascontiguousarray(x, dtype=np.float32).reshape(-1, 32)
    amax = np.abs(b).max(axis=1)
    d = amax / np.float32(127.0)
    with np.errstate(divide="ignore"):
        inv = np.where(d != 0, np.float32(1.0) / d, np.float32(0.0)).astype(np.float32)
    v = (b * inv[:, None]).astype(np.float64)  # the product in f32 as ggml; rounding exact
    q = np.sign(v) * np.floor(np.abs(v) + 0.5)  # roundf: halves away from zero
    out = np.empty(b.shape[0], dtype=Q8_0_BLOCK)
    out["d"] = d.astype(np.float16)
    out["qs"] = q.astype(np.int8)
    return out.tobytes()


def f16(x):
    """x rounded to f16 and back, as the decoder will see a stored scale."""
    return np.asarray(x, dtype=np.float32).astype(np.float16).astype(np.float32)


Q4_0_BLOCK = None if np is None else np.dtype([("d", "<f2"), ("qs", "u1", 16)])
assert np is None or Q4_0_BLOCK.itemsize == 18


def to_q4_0_bytes(x):
    """ggml's quantize_row_q4_0_ref: the value of largest magnitude maps to -8,
    q = min(15, trunc(x / d + 8.5)); value = d * (q - 8). Low nibbles hold
    values 0-15 of the block, high nibbles 16-31."""
    b = np.ascontiguousarray(x, dtype=np.float32).reshape(-1, 32)
    mx = b[np.arange(b.shape[0]), np.abs(b).argmax(axis=1)]
    d = mx / np.float32(-8.0)
    with np.errstate(divide="ignore"):
        inv = np.where(d != 0, np.float32(1.0) / d, np.float32(0.0)).astype(np.float32)
    q = np.minimum(15, np.trunc(b * inv[:, None] + np.float32(8.5))).astype(np.uint8)
    out = np.empty(b.shape[0], dtype=Q4_0_BLOCK)
    out["d"] = d.astype(np.float16)
    out["qs"] = q[:, :16] | (q[:, 16:] << 4)
    return out.tobytes()


Q4_K_BLOCK = None if np is None else np.dtype([("d", "<f2"), ("dmin", "<f2"), ("scales", "u1", 12), ("qs", "u1", 128)])
assert np is None or Q4_K_BLOCK.itemsize == 144


def to_q4_k_bytes(x):
    """Q4_K super-blocks of 256: eight sub-blocks of 32, each value
    d*sc[j]*q - dmin*m[j] with q in 0..15 and 6-bit sc, m. A plain min/max
    quantiser (not ggml's iterative search: any valid block will do, the
    tests decode the bytes that were written). Layout as ggml's
    get_scale_min_k4 reads it: sub-blocks 0-3 keep sc and m in the low six
    bits of scales[j] and scales[j+4]; 4-7 keep their low four bits in
    scales[j+4] and their top two in the spare bits of scales[j-4] (sc) and
    scales[j] (m). qs[32p + l] holds value 64p + l (low) and 64p + 32 + l (high)."""
    b = np.ascontiguousarray(x, dtype=np.float32).reshape(-1, 8, 32)
    lo = np.minimum(b.min(axis=2), 0.0)
    scale = (b.max(axis=2) - lo) / np.float32(15.0)
    d = f16(scale.max(axis=1) / np.float32(63.0))
    dmin = f16(-lo.min(axis=1) / np.float32(63.0))
    with np.errstate(divide="ignore", invalid="ignore"):
        sc = np.where(d[:, None] > 0, np.rint(scale / d[:, None]), 0).clip(0, 63).astype(np.uint8)
        m = np.where(dmin[:, None] > 0, np.rint(-lo / dmin[:, None]), 0).clip(0, 63).astype(np.uint8)
        step = (d[:, None] * sc)[:, :, None]
        q = np.where(step > 0, np.rint((b + (dmin[:, None] * m)[:, :, None]) / step), 0)
    q = q.clip(0, 15).astype(np.uint8)
    scales = np.zeros((b.shape[0], 12), dtype=np.uint8)
    scales[:, 0:4] = (sc[:, 0:4] & 63) | ((sc[:, 4:8] >> 4) << 6)
    scales[:, 4:8] = (m[:, 0:4] & 63) | ((m[:, 4:8] >> 4) << 6)
    scales[:, 8:12] = (sc[:, 4:8] & 0xF) | ((m[:, 4:8] & 0xF) << 4)
    pairs = q.reshape(-1, 4, 2, 32)
    out = np.empty(b.shape[0], dtype=Q4_K_BLOCK)
    out["d"] = d.astype(np.float16)
    out["dmin"] = dmin.astype(np.float16)
    out["scales"] = scales
    out["qs"] = (pairs[:, :, 0, :] | (pairs[:, :, 1, :] << 4)).reshape(-1, 128)
    return out.tobytes()


Q6_K_BLOCK = None if np is None else np.dtype([("ql", "u1", 128), ("qh", "u1", 64), ("scales", "i1", 16), ("d", "<f2")])
assert np is None or Q6_K_BLOCK.itemsize == 210


def to_q6_k_bytes(x):
    """Q6_K super-blocks of 256: sixteen sub-blocks of 16, value d*sc[j]*(q - 32)
    with q in 0..63 and a signed 8-bit sc. As ggml does, the value of largest
    magnitude maps to -32 and the largest scale to -128, so scales of both
    signs occur. Each half of 128 values keeps low nibbles in ql[64] (value
    l and l+64 share ql[l], l+32 and l+96 share ql[l+32]) and the top two
    bits of l, l+32, l+64, l+96 in qh[l] at shifts 0, 2, 4, 6."""
    b = np.ascontiguousarray(x, dtype=np.float32).reshape(-1, 16, 16)
    mx = np.take_along_axis(b, np.abs(b).argmax(axis=2)[:, :, None], axis=2)[:, :, 0]
    scale = mx / np.float32(-32.0)
    big = np.take_along_axis(scale, np.abs(scale).argmax(axis=1)[:, None], axis=1)[:, 0]
    d = f16(big / np.float32(-128.0))
    with np.errstate(divide="ignore", invalid="ignore"):
        sc = np.where(d[:, None] != 0, np.rint(scale / d[:, None]), 0).clip(-128, 127).astype(np.int8)
        step = (d[:, None] * sc)[:, :, None]
        q = np.where(step != 0, np.rint(b / step), 0)
    q = (q.clip(-32, 31) + 32).astype(np.uint8).reshape(-1, 2, 4, 32)  # [block, half, quarter, l]
    ql = np.concatenate([q[:, :, 0] & 0xF | (q[:, :, 2] & 0xF) << 4,
                         q[:, :, 1] & 0xF | (q[:, :, 3] & 0xF) << 4], axis=2)  # [block, half, 64]
    qh = (q[:, :, 0] >> 4) | (q[:, :, 1] >> 4) << 2 | (q[:, :, 2] >> 4) << 4 | (q[:, :, 3] >> 4) << 6
    out = np.empty(b.shape[0], dtype=Q6_K_BLOCK)
    out["ql"] = ql.reshape(-1, 128)
    out["qh"] = qh.reshape(-1, 64)
    out["scales"] = sc
    out["d"] = d.astype(np.float16)
    return out.tobytes()


def encode(x, dtype):
    if dtype == "q4_0":
        return to_q4_0_bytes(x)
    if dtype == "q4_k":
        return to_q4_k_bytes(x)
    if dtype == "q6_k":
        return to_q6_k_bytes(x)
    if dtype == "f32":
        return np.ascontiguousarray(x, dtype="<f4").tobytes()
    if dtype == "f16":
        return np.ascontiguousarray(x, dtype="<f2").tobytes()
    if dtype == "bf16":
        return to_bf16_bytes(x)
    return to_q8_0_bytes(x)


def nbytes(shape, dtype):
    n = math.prod(shape)
    return {"f32": 4 * n, "f16": 2 * n, "bf16": 2 * n, "q8_0": n // 32 * 34, "q4_0": n // 32 * 18,
            "q4_k": n // 256 * 144, "q6_k": n // 256 * 210}[dtype]


def tensor_dtype(file_dtype, spec):
    """The type one tensor is stored in. Norms stay f32. q4_k_m mixes as
    llama.cpp's Q4_K_M does for small models: the embedding (tied to the
    output), attn_v and ffn_down in q6_k, the other matrices in q4_k. A
    k-quant needs rows of whole 256-value super-blocks; a tensor whose rows
    are not falls back to q8_0, as llama.cpp falls back to a legacy type."""
    if spec.kind == "norm":
        return "f32"
    dt = file_dtype
    if dt == "q4_k_m":
        heavy = spec.kind == "embed" or spec.name.endswith(("v_proj.weight", "down_proj.weight"))
        dt = "q6_k" if heavy else "q4_k"
    if dt in K_QUANTS and spec.shape[-1] % 256:
        dt = "q8_0"
    return dt


# ---- --random-bytes -----------------------------------------------------------------------

RANDOM_BYTES_TYPES = ("f32", "f16", "bf16", "q8_0")


def random_tensor_chunks(spec, dt, seed):
    """--random-bytes: a tensor's bytes in chunks, from random.Random seeded by
    (seed, name). Floats: random sign and mantissa, the exponent of the
    master values' scale (norms about 1, matrices gain/sqrt(fan_in),
    embeddings EMBED_STD); Q8_0: uniform int8 under one f16 scale giving the
    same standard deviation. Byte-wise table lookups, so it runs at C speed."""
    rng = random.Random(seed * 4294967296 + zlib.crc32(spec.name.encode()))
    cols = spec.shape[-1]
    n_all = math.prod(spec.shape)
    std = 1.0 if spec.kind == "norm" else MATRIX_GAIN / math.sqrt(cols) if spec.kind == "matrix" else EMBED_STD
    step = max(32, EMBED_CHUNK_VALUES // cols * cols)
    # what each chunk's bytes become, once per tensor: Q8_0 blocks take the
    # scale d (uniform int8 has std 73.9); a float's top bytes (width apart)
    # go through tables that keep the sign and mantissa bits and set the
    # exponent, |x| in [2^e, 2^(e+1)) having std about 1.5 * 2^e (norms in
    # [1, 2))
    if dt == "q8_0":
        d = struct.pack("<e", std / 73.9)
    else:
        e = 0 if spec.kind == "norm" else math.floor(math.log2(std / 1.5))
        width = {"f32": 4, "f16": 2, "bf16": 2}[dt]
        if dt == "f16":
            big = 15 + e  # sign | 5 exponent bits | the mantissa's top 2 bits
            tables = ((1, bytes((b & 0x83) | (big << 2) for b in range(256))),)
        else:
            big = 127 + e  # sign | 8 exponent bits over the top two bytes
            tables = ((width - 1, bytes((b & 0x80) | (big >> 1) for b in range(256))),
                      (width - 2, bytes((b & 0x7F) | ((big & 1) << 7) for b in range(256))))
    for v0 in range(0, n_all, step):
        n = min(step, n_all - v0)
        if dt == "q8_0":
            nb = n // 32
            out = bytearray(rng.randbytes(nb * 34))
            out[0::34] = d[0:1] * nb
            out[1::34] = d[1:2] * nb
        else:
            out = bytearray(rng.randbytes(n * width))
            for at, table in tables:
                out[at::width] = bytes(out[at::width]).translate(table)
        yield bytes(out)


# ---- GGUF ---------------------------------------------------------------------------------

GGUF_NAMES = {
    "input_layernorm.weight": "attn_norm.weight",
    "self_attn.q_proj.weight": "attn_q.weight",
    "self_attn.k_proj.weight": "attn_k.weight",
    "self_attn.v_proj.weight": "attn_v.weight",
    "self_attn.o_proj.weight": "attn_output.weight",
    "self_attn.q_norm.weight": "attn_q_norm.weight",
    "self_attn.k_norm.weight": "attn_k_norm.weight",
    "post_attention_layernorm.weight": "ffn_norm.weight",
    "mlp.gate_proj.weight": "ffn_gate.weight",
    "mlp.up_proj.weight": "ffn_up.weight",
    "mlp.down_proj.weight": "ffn_down.weight",
}


def gguf_name(name):
    if name == "embed_tokens.weight":
        return "token_embd.weight"
    if name == "norm.weight":
        return "output_norm.weight"
    _, i, rest = name.split(".", 2)
    return "blk.%s.%s" % (i, GGUF_NAMES[rest])


def gg_str(s):
    b = s.encode("utf-8") if isinstance(s, str) else s
    return struct.pack("<Q", len(b)) + b


def gg_kv(key, vtype, value):
    out = gg_str(key) + struct.pack("<I", {"u32": 4, "i32": 5, "f32": 6, "bool": 7, "str": 8,
                                           "arr": 9}[vtype])
    if vtype == "u32":
        return out + struct.pack("<I", value)
    if vtype == "f32":
        return out + struct.pack("<f", value)
    if vtype == "bool":
        return out + struct.pack("<B", 1 if value else 0)
    if vtype == "str":
        return out + gg_str(value)
    etype, items = value
    if etype == "str":
        return out + struct.pack("<IQ", 8, len(items)) + b"".join(gg_str(s) for s in items)
    return out + struct.pack("<IQ", 5, len(items)) + struct.pack("<%di" % len(items), *items)


def write_gguf(a, specs, tokens, types, merges):
    kind_dt = a.dtype
    tensors = []  # (gguf name, spec, dtype, ggml ne, rows-from-embedding for cls)
    for s in specs:
        tensors.append((gguf_name(s.name), s, tensor_dtype(kind_dt, s)))
    if a.kind == "reranker" and not a.no_cls:
        cls = Spec("cls.output.weight", (2, a.hidden), "cls")
        tensors.append(("cls.output.weight", cls, tensor_dtype(kind_dt, cls)))

    kvs = [
        gg_kv("general.architecture", "str", "qwen3"),
        gg_kv("general.name", "str", a.name),
        gg_kv("general.file_type", "u32", GGUF_FILE_TYPE[kind_dt]),
        gg_kv("general.alignment", "u32", ALIGNMENT),
        gg_kv("qwen3.block_count", "u32", a.layers),
        gg_kv("qwen3.context_length", "u32", a.context),
        gg_kv("qwen3.embedding_length", "u32", a.hidden),
        gg_kv("qwen3.feed_forward_length", "u32", a.ffn),
        gg_kv("qwen3.attention.head_count", "u32", a.heads),
        gg_kv("qwen3.attention.head_count_kv", "u32", a.kv_heads),
        gg_kv("qwen3.attention.key_length", "u32", a.head_dim),
        gg_kv("qwen3.attention.value_length", "u32", a.head_dim),
        gg_kv("qwen3.attention.layer_norm_rms_epsilon", "f32", a.eps),
        gg_kv("qwen3.rope.freq_base", "f32", a.rope_theta),
        gg_kv("qwen3.pooling_type", "u32", 4 if a.kind == "reranker" else 3),
        gg_kv("tokenizer.ggml.model", "str", "gpt2"),
        gg_kv("tokenizer.ggml.pre", "str", "qwen2"),
        gg_kv("tokenizer.ggml.tokens", "arr", ("str", tokens)),
        gg_kv("tokenizer.ggml.token_type", "arr", ("i32", types)),
        gg_kv("tokenizer.ggml.merges", "arr", ("str", merges)),
        gg_kv("tokenizer.ggml.eos_token_id", "u32", EOS_ID),
        gg_kv("tokenizer.ggml.padding_token_id", "u32", EOS_ID),
        gg_kv("tokenizer.ggml.bos_token_id", "u32", EOS_ID),
        gg_kv("tokenizer.ggml.add_bos_token", "bool", False),
    ]
    if a.kind == "reranker":
        kvs.append(gg_kv("qwen3.classifier.output_labels", "arr", ("str", ["yes", "no"])))
        kvs.append(gg_kv("tokenizer.chat_template.rerank", "str", RERANK_TEMPLATE))

    infos, offset = [], 0
    for gname, s, dt in tensors:
        ne = list(reversed(s.shape))
        infos.append(gg_str(gname) + struct.pack("<I", len(ne)) +
                     b"".join(struct.pack("<Q", n) for n in ne) +
                     struct.pack("<IQ", GGUF_TYPE[dt], offset))
        offset += -(-nbytes(s.shape, dt) // ALIGNMENT) * ALIGNMENT

    header = b"GGUF" + struct.pack("<IQQ", 3, len(tensors), len(kvs)) + b"".join(kvs) + \
        b"".join(infos)
    with open(a.out, "wb") as f:
        f.write(header)
        f.write(b"\0" * (-len(header) % ALIGNMENT))
        embed = specs[0]
        for gname, s, dt in tensors:
            written = 0
            if a.random_bytes:
                for data in random_tensor_chunks(s, dt, a.seed):
                    f.write(data)
                    written += len(data)
            elif s.kind == "cls":  # the "yes" and "no" embedding rows
                data = encode(embedding_rows(embed, a.seed, (YES_ID, NO_ID)), dt)
                f.write(data)
                written = len(data)
            else:
                for _, _, x in master_chunks(s, a.seed):
                    data = encode(x, dt)
                    f.write(data)
                    written += len(data)
            assert written == nbytes(s.shape, dt), gname
            f.write(b"\0" * (-written % ALIGNMENT))


# ---- Hugging Face directory ---------------------------------------------------------------

def write_safetensors(path, entries, seed, dtype):
    """entries: (file name of tensor, spec). Header padded to 8 bytes as safetensors does."""
    header, offset = {}, 0
    for name, s in entries:
        n = nbytes(s.shape, dtype)
        header[name] = {"dtype": ST_DTYPE[dtype], "shape": list(s.shape),
                        "data_offsets": [offset, offset + n]}
        offset += n
    header["__metadata__"] = {"format": "pt"}
    text = json.dumps(header, separators=(",", ":")).encode()
    text += b" " * (-len(text) % 8)
    with open(path, "wb") as f:
        f.write(struct.pack("<Q", len(text)))
        f.write(text)
        for _, s in entries:
            for _, _, x in master_chunks(s, seed):
                f.write(encode(x, dtype))
    return offset


def write_hf(a, specs, rows):
    os.makedirs(a.out, exist_ok=True)
    prefix = "" if a.no_prefix else "model."
    entries = [(prefix + s.name, s) for s in specs]
    total = sum(nbytes(s.shape, a.dtype) for s in specs)
    if a.shards == 1:
        write_safetensors(os.path.join(a.out, "model.safetensors"), entries, a.seed, a.dtype)
    else:
        if a.shards > len(entries):
            sys.exit("--shards %d: the model has only %d tensors" % (a.shards, len(entries)))
        per = -(-len(entries) // a.shards)  # consecutive runs of equal tensor counts
        groups = [entries[k * per:(k + 1) * per] for k in range(a.shards)]
        if not groups[-1]:
            sys.exit("--shards %d: cannot split %d tensors evenly" % (a.shards, len(entries)))
        weight_map = {}
        for k, g in enumerate(groups):
            fname = "model-%05d-of-%05d.safetensors" % (k + 1, a.shards)
            write_safetensors(os.path.join(a.out, fname), g, a.seed, a.dtype)
            for name, _ in g:
                weight_map[name] = fname
        with open(os.path.join(a.out, "model.safetensors.index.json"), "w") as f:
            json.dump({"metadata": {"total_size": total}, "weight_map": weight_map}, f, indent=2)
    config = {
        "architectures": ["Qwen3ForCausalLM"],
        "model_type": "qwen3",
        "attention_bias": False,
        "attention_dropout": 0.0,
        "bos_token_id": EOS_ID,
        "eos_token_id": EOS_ID,
        "head_dim": a.head_dim,
        "hidden_act": "silu",
        "hidden_size": a.hidden,
        "initializer_range": 0.02,
        "intermediate_size": a.ffn,
        "max_position_embeddings": a.context,
        "max_window_layers": a.layers,
        "num_attention_heads": a.heads,
        "num_hidden_layers": a.layers,
        "num_key_value_heads": a.kv_heads,
        "rms_norm_eps": a.eps,
        "rope_scaling": None,
        "rope_theta": a.rope_theta,
        "sliding_window": None,
        "tie_word_embeddings": True,
        "torch_dtype": {"f32": "float32", "f16": "float16", "bf16": "bfloat16"}[a.dtype],
        "use_cache": True,
        "use_sliding_window": False,
        "vocab_size": rows,
    }
    with open(os.path.join(a.out, "config.json"), "w") as f:
        json.dump(config, f, indent=2)
    for name in ("tokenizer.json", "tokenizer_config.json"):
        shutil.copyfile(os.path.join(TOKENIZER_DIR, name), os.path.join(a.out, name))


# ---- command line -------------------------------------------------------------------------

def parse_args(argv):
    p = argparse.ArgumentParser(description="Write a seeded random-weight Qwen3 model.")
    p.add_argument("--out", required=True, help="GGUF file, or directory for --format hf")
    p.add_argument("--format", required=True, choices=["gguf", "hf"])
    p.add_argument("--dtype", choices=["f32", "f16", "bf16", "q8_0", "q4_0", "q4_k", "q6_k", "q4_k_m"],
                   help="matrix weights (default: q8_0 for gguf, bf16 for hf; the quantised "
                        "types are gguf only)")
    p.add_argument("--layers", type=int, default=2)
    p.add_argument("--hidden", type=int, default=64)
    p.add_argument("--ffn", type=int, default=128)
    p.add_argument("--heads", type=int, default=4)
    p.add_argument("--kv-heads", type=int, default=2)
    p.add_argument("--head-dim", type=int, default=32)
    p.add_argument("--seed", type=int, default=0)
    p.add_argument("--kind", choices=["reranker", "embedder"], default="reranker")
    p.add_argument("--shards", type=int, default=1, help="hf only: number of safetensors files")
    p.add_argument("--no-prefix", action="store_true", help="hf only: names without 'model.'")
    p.add_argument("--no-cls", action="store_true", help="gguf reranker without cls.output")
    p.add_argument("--vocab-rows", type=int, default=None,
                   help="embedding rows (>= 151669; 151936 pads like the real model)")
    p.add_argument("--context", type=int, default=40960)
    p.add_argument("--rope-theta", type=float, default=1e6)
    p.add_argument("--eps", type=float, default=1e-6)
    p.add_argument("--name", default=None)
    p.add_argument("--random-bytes", action="store_true",
                   help="gguf f32/f16/bf16/q8_0 without numpy: random bits of the same scales, "
                        "for benchmarks (the module docstring says what differs)")
    a = p.parse_args(argv)
    if a.dtype is None:
        a.dtype = "q8_0" if a.format == "gguf" else "bf16"
    if a.format == "hf" and a.dtype not in ST_DTYPE:
        p.error("--format hf supports f32, f16 and bf16")
    if a.format == "gguf" and (a.shards != 1 or a.no_prefix):
        p.error("--shards and --no-prefix are for --format hf")
    for k in ("layers", "hidden", "ffn", "heads", "kv_heads", "head_dim", "shards", "context"):
        if getattr(a, k) < 1:
            p.error("--%s must be >= 1" % k.replace("_", "-"))
    if a.heads % a.kv_heads:
        p.error("--heads must be a multiple of --kv-heads")
    if a.head_dim % 2:
        p.error("--head-dim must be even (rotate-half RoPE)")
    if a.dtype in ("q8_0", "q4_0") or a.dtype in K_QUANTS:  # k-quants fall back to q8_0
        for k in ("hidden", "ffn"):
            if getattr(a, k) % 32:
                p.error("%s needs --%s to be a multiple of 32" % (a.dtype, k))
        if (a.heads * a.head_dim) % 32:
            p.error("%s needs --heads x --head-dim to be a multiple of 32" % a.dtype)
    if a.random_bytes and (a.format != "gguf" or a.dtype not in RANDOM_BYTES_TYPES):
        p.error("--random-bytes writes gguf files of %s only" % ", ".join(RANDOM_BYTES_TYPES))
    if not a.random_bytes and np is None:
        p.error("numpy is missing (Debian: apt-get install python3-numpy); --random-bytes needs none")
    if a.name is None:
        a.name = "qrank-test-%s-%s" % (a.kind, a.dtype)
    return a


def main(argv):
    a = parse_args(argv)
    tokens, types, merges = load_tokenizer()
    rows = a.vocab_rows if a.vocab_rows is not None else len(tokens)
    if rows < len(tokens):
        sys.exit("--vocab-rows must be >= %d so that every token id has a row" % len(tokens))
    # llama.cpp pads the token list to the embedding rows with unused "[PADn]" tokens
    tokens = tokens + ["[PAD%d]" % i for i in range(len(tokens), rows)]
    types = types + [5] * (rows - len(types))
    specs = model_specs(a, rows)
    parent = os.path.dirname(os.path.abspath(a.out))
    os.makedirs(parent, exist_ok=True)
    if a.format == "gguf":
        write_gguf(a, specs, tokens, types, merges)
    else:
        write_hf(a, specs, rows)


if __name__ == "__main__":
    main(sys.argv[1:])
