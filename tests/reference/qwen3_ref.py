#!/usr/bin/python3
"""qwen3_ref.py - an independent float64 Qwen3 forward, rerank score and embedding.

This is the yardstick the C engine is measured against, so it is written to be
checked by eye against /work/shared/qwen3/MODEL.md, the way llama2.c's run.c
reads against the paper: one reader per file format, one `forward` that goes
top to bottom, no caches, no batching, no fusing, numpy float64 throughout.

Why it is independent of the engine: it shares no code with src/ or tools/.
It has its own GGUF and safetensors readers, its own dequantisation (F32, F16,
BF16, Q8_0, Q4_0 widened exactly to float64; Q4_K and Q6_K to the f32 value
ggml's dequantisation produces, since those formulas round once in f32; so
the reference and the engine start from the same weight values and differ
only in arithmetic), and it works from
token ids: prompts are built by the test drivers, never by the engine's
template code.

Two decisions shape it:
- Weights are widened lazily. The embedding table is read row by row (only
  the rows a prompt uses, plus the yes/no rows), and layer matrices are widened
  when a layer runs; small models keep them cached. So the same file also
  runs on the real 0.6B weights (slowly) without holding 4.8 GB of float64.
- It trusts nothing it reads: every length and offset is checked before use
  and a bad file raises FormatError naming the field.

Command line (for checking by hand):
  qwen3_ref.py info MODEL
  qwen3_ref.py rerank MODEL IDS_JSON          IDS_JSON: [[ids of prompt 1], ...]
  qwen3_ref.py embed MODEL IDS_JSON [--dims D]
"""

import json
import math
import os
import struct
import sys

import numpy as np

YES_ID = 9693
NO_ID = 2152
ENDOFTEXT_ID = 151643


class FormatError(Exception):
    pass


# ---- weight types ---------------------------------------------------------------------
#
# GGML type ids (the `type` field of a GGUF tensor info) and how many values /
# bytes make a block. Safetensors dtypes map onto the same names.

GGML_F32, GGML_F16, GGML_Q4_0, GGML_Q8_0, GGML_Q4_K, GGML_Q6_K, GGML_BF16 = 0, 1, 2, 8, 12, 14, 30
GGML_TYPES = {
    GGML_F32: ("F32", 1, 4),
    GGML_F16: ("F16", 1, 2),
    GGML_Q4_0: ("Q4_0", 32, 18),  # f16 d, 16 bytes of nibbles: value = d * (q - 8)
    GGML_Q8_0: ("Q8_0", 32, 34),  # f16 scale d, then 32 int8 q: value = d * q
    GGML_Q4_K: ("Q4_K", 256, 144),  # see widen_q4_k
    GGML_Q6_K: ("Q6_K", 256, 210),  # see widen_q6_k
    GGML_BF16: ("BF16", 1, 2),
}
SAFETENSORS_TYPES = {"F32": ("F32", 1, 4), "F16": ("F16", 1, 2), "BF16": ("BF16", 1, 2)}


def nibbles(byte_array):
    """(low, high) 4-bit halves of uint8 values."""
    return byte_array & 0x0F, byte_array >> 4


def round_f32(x):
    return np.asarray(x, dtype=np.float64).astype(np.float32).astype(np.float64)


def widen_q4_0(raw, n_blocks):
    """Q4_0 (32 values): f16 d, then qs[16]. Byte j carries value j in its low
    nibble and value j + 16 in its high nibble; value = d * (nibble - 8)."""
    block = np.dtype([("d", "<f2"), ("qs", "u1", (16,))])
    blocks = np.frombuffer(raw, dtype=block, count=n_blocks)
    low, high = nibbles(blocks["qs"])
    q = np.concatenate([low, high], axis=1).astype(np.float64) - 8.0
    return (blocks["d"].astype(np.float64)[:, None] * q).reshape(-1)


def widen_q4_k(raw, n_blocks):
    """Q4_K (256 values): f16 d, f16 dmin, scales[12], qs[128]. Eight groups of
    32 values; group g has a 6-bit scale sc[g] and a 6-bit min m[g]:
      g < 4:  sc = scales[g] & 63,  m = scales[g + 4] & 63
      g >= 4: sc = (scales[g + 4] & 15) | (scales[g - 4] >> 6) << 4
              m  = (scales[g + 4] >> 4) | (scales[g] >> 6) << 4
    value = d * sc * q - dmin * m, q a nibble of qs: the 32 bytes qs[32p ..
    32p + 31] hold group 2p in their low nibbles and group 2p + 1 in their
    high nibbles. ggml evaluates (d * sc) * q - dmin * m in f32: the products
    are exact (11 x 6 x 4 bits), the difference is rounded once."""
    block = np.dtype([("d", "<f2"), ("dmin", "<f2"), ("scales", "u1", (12,)), ("qs", "u1", (128,))])
    blocks = np.frombuffer(raw, dtype=block, count=n_blocks)
    sb = blocks["scales"].astype(np.int64)
    sc = np.empty((n_blocks, 8), dtype=np.int64)
    mn = np.empty((n_blocks, 8), dtype=np.int64)
    for g in range(8):
        if g < 4:
            sc[:, g] = sb[:, g] & 63
            mn[:, g] = sb[:, g + 4] & 63
        else:
            sc[:, g] = (sb[:, g + 4] & 15) | ((sb[:, g - 4] >> 6) << 4)
            mn[:, g] = (sb[:, g + 4] >> 4) | ((sb[:, g] >> 6) << 4)
    q = np.empty((n_blocks, 8, 32), dtype=np.int64)
    for p in range(4):
        low, high = nibbles(blocks["qs"][:, 32 * p:32 * p + 32].astype(np.int64))
        q[:, 2 * p] = low
        q[:, 2 * p + 1] = high
    d = blocks["d"].astype(np.float64)[:, None, None]
    dmin = blocks["dmin"].astype(np.float64)[:, None, None]
    values = d * sc[:, :, None] * q - dmin * mn[:, :, None]
    return round_f32(values).reshape(-1)


def widen_q6_k(raw, n_blocks):
    """Q6_K (256 values): ql[128], qh[64], int8 scales[16], f16 d. Sixteen
    groups of 16 values, group j scaled by the signed scales[j]; value =
    d * scales[j] * (q - 32), q six bits. Each half h (128 values) uses
    ql[64h .. 64h + 63] and qh[32h .. 32h + 31]; for l in 0..31 the values
    128h + l, + 32, + 64, + 96 take the low nibble of ql[l], of ql[l + 32],
    the high nibble of ql[l], of ql[l + 32] (offsets within the half), and
    bits 0-1, 2-3, 4-5, 6-7 of qh[l] on top. ggml evaluates (d * sc) * q in
    f32: d * sc is exact (11 x 8 bits), the second product is rounded."""
    block = np.dtype([("ql", "u1", (128,)), ("qh", "u1", (64,)), ("scales", "i1", (16,)), ("d", "<f2")])
    blocks = np.frombuffer(raw, dtype=block, count=n_blocks)
    q = np.empty((n_blocks, 256), dtype=np.int64)
    for h in range(2):
        ql = blocks["ql"][:, 64 * h:64 * h + 64].astype(np.int64)
        qh = blocks["qh"][:, 32 * h:32 * h + 32].astype(np.int64)
        low_a, high_a = nibbles(ql[:, :32])
        low_b, high_b = nibbles(ql[:, 32:])
        base = 128 * h
        q[:, base + 0:base + 32] = low_a | ((qh >> 0) & 3) << 4
        q[:, base + 32:base + 64] = low_b | ((qh >> 2) & 3) << 4
        q[:, base + 64:base + 96] = high_a | ((qh >> 4) & 3) << 4
        q[:, base + 96:base + 128] = high_b | ((qh >> 6) & 3) << 4
    scale = np.repeat(blocks["scales"].astype(np.float64), 16, axis=1)  # value i: group i // 16
    values = blocks["d"].astype(np.float64)[:, None] * scale * (q - 32)
    return round_f32(values).reshape(-1)


def widen(type_name, raw, n_values):
    """Bytes of `n_values` consecutive values of one type -> float64 array (exact)."""
    if type_name == "F32":
        return np.frombuffer(raw, dtype="<f4", count=n_values).astype(np.float64)
    if type_name == "F16":
        return np.frombuffer(raw, dtype="<f2", count=n_values).astype(np.float64)
    if type_name == "BF16":
        # bf16 is the top half of an f32: shift into place, reinterpret.
        hi = np.frombuffer(raw, dtype="<u2", count=n_values).astype(np.uint32) << 16
        return hi.view("<f4").astype(np.float64)
    if type_name == "Q8_0":
        block = np.dtype([("d", "<f2"), ("q", "i1", (32,))])
        blocks = np.frombuffer(raw, dtype=block, count=n_values // 32)
        d = blocks["d"].astype(np.float64)[:, None]
        return (d * blocks["q"].astype(np.float64)).reshape(-1)
    if type_name == "Q4_0":
        return widen_q4_0(raw, n_values // 32)
    if type_name == "Q4_K":
        return widen_q4_k(raw, n_values // 256)
    if type_name == "Q6_K":
        return widen_q6_k(raw, n_values // 256)
    raise FormatError("weight type %s is not supported by the reference" % type_name)


class Tensor:
    """A weight in a mapped file. shape is numpy order (outermost first), so a
    linear layer's weight has shape (out, in) whichever format it came from."""

    def __init__(self, name, type_name, shape, buf, offset, nbytes, block_values, block_bytes):
        self.name = name
        self.type_name = type_name
        self.shape = tuple(int(s) for s in shape)
        inner = self.shape[-1] if self.shape else 1
        n = 1
        for s in self.shape:
            if s <= 0:
                raise FormatError("tensor %s: dimension %d" % (name, s))
            n *= s
        if inner % block_values:
            raise FormatError("tensor %s: row of %d values is not whole %s blocks" % (name, inner, type_name))
        self.row_bytes = inner // block_values * block_bytes
        want = n // inner * self.row_bytes
        if nbytes != want:
            raise FormatError("tensor %s: %d bytes, shape needs %d" % (name, nbytes, want))
        if offset < 0 or offset + nbytes > len(buf):
            raise FormatError("tensor %s: data [%d, %d) outside the file (%d bytes)"
                              % (name, offset, offset + nbytes, len(buf)))
        self.buf = buf
        self.offset = offset
        self.nbytes = nbytes

    @property
    def n_rows(self):
        return self.nbytes // self.row_bytes

    def row(self, i):
        if not 0 <= i < self.n_rows:
            raise IndexError("tensor %s: row %d of %d" % (self.name, i, self.n_rows))
        start = self.offset + i * self.row_bytes
        return widen(self.type_name, self.buf[start:start + self.row_bytes], self.shape[-1])

    def rows(self, ids):
        return np.stack([self.row(int(i)) for i in ids])

    def array(self):
        values = widen(self.type_name, self.buf[self.offset:self.offset + self.nbytes],
                       self.nbytes // self.row_bytes * self.shape[-1])
        return values.reshape(self.shape)


# ---- GGUF -----------------------------------------------------------------------------


class Cursor:
    """Reads little-endian fields from a byte buffer; every read is bounds-checked."""

    def __init__(self, buf, pos=0):
        self.buf = buf
        self.pos = pos

    def take(self, n, what):
        if n < 0 or self.pos + n > len(self.buf):
            raise FormatError("GGUF: %s: needs %d bytes at offset %d, file has %d"
                              % (what, n, self.pos, len(self.buf)))
        out = self.buf[self.pos:self.pos + n]
        self.pos += n
        return out

    def unpack(self, fmt, what):
        return struct.unpack("<" + fmt, self.take(struct.calcsize("<" + fmt), what))[0]

    def string(self, what):
        n = self.unpack("Q", what + " length")
        return bytes(self.take(n, what)).decode("utf-8", errors="replace")


GGUF_SCALARS = {0: "B", 1: "b", 2: "H", 3: "h", 4: "I", 5: "i", 6: "f", 7: "?", 10: "Q", 11: "q", 12: "d"}
GGUF_STRING, GGUF_ARRAY = 8, 9


def gguf_value(cur, vtype, what):
    if vtype in GGUF_SCALARS:
        return cur.unpack(GGUF_SCALARS[vtype], what)
    if vtype == GGUF_STRING:
        return cur.string(what)
    if vtype == GGUF_ARRAY:
        elem = cur.unpack("I", what + " element type")
        n = cur.unpack("Q", what + " element count")
        if elem == GGUF_ARRAY:
            raise FormatError("GGUF: %s: nested arrays" % what)
        if elem in GGUF_SCALARS:
            size = struct.calcsize("<" + GGUF_SCALARS[elem])
            raw = cur.take(n * size, what)  # checks the whole array fits first
            return list(struct.unpack("<%d%s" % (n, GGUF_SCALARS[elem]), raw))
        if elem == GGUF_STRING:
            if n > len(cur.buf) - cur.pos:  # each string needs at least its 8-byte length
                raise FormatError("GGUF: %s: %d strings cannot fit" % (what, n))
            return [cur.string(what) for _ in range(n)]
        raise FormatError("GGUF: %s: unknown element type %d" % (what, elem))
    raise FormatError("GGUF: %s: unknown value type %d" % (what, vtype))


def read_gguf(path):
    """Returns (kv dict, {name: Tensor})."""
    buf = np.memmap(path, dtype=np.uint8, mode="r")
    data = memoryview(buf)
    cur = Cursor(data)
    if bytes(cur.take(4, "magic")) != b"GGUF":
        raise FormatError("GGUF: bad magic")
    version = cur.unpack("I", "version")
    if version not in (2, 3):
        raise FormatError("GGUF: version %d not supported" % version)
    n_tensors = cur.unpack("Q", "tensor count")
    n_kv = cur.unpack("Q", "key/value count")
    kv = {}
    for i in range(n_kv):
        key = cur.string("key %d" % i)
        vtype = cur.unpack("I", "type of " + key)
        kv[key] = gguf_value(cur, vtype, key)
    infos = []
    for i in range(n_tensors):
        name = cur.string("tensor %d name" % i)
        n_dims = cur.unpack("I", name + " n_dims")
        if not 1 <= n_dims <= 4:
            raise FormatError("GGUF: %s: %d dimensions" % (name, n_dims))
        ne = [cur.unpack("Q", name + " dim") for _ in range(n_dims)]
        ttype = cur.unpack("I", name + " type")
        offset = cur.unpack("Q", name + " offset")
        infos.append((name, ne, ttype, offset))
    alignment = kv.get("general.alignment", 32)
    if not isinstance(alignment, int) or alignment <= 0 or alignment & (alignment - 1):
        raise FormatError("GGUF: general.alignment %r" % (alignment,))
    data_start = (cur.pos + alignment - 1) // alignment * alignment
    tensors = {}
    for name, ne, ttype, offset in infos:
        if ttype not in GGML_TYPES:
            raise FormatError("GGUF: %s: type %d not supported by the reference" % (name, ttype))
        if offset % alignment:
            raise FormatError("GGUF: %s: offset %d not aligned" % (name, offset))
        type_name, block_values, block_bytes = GGML_TYPES[ttype]
        shape = list(reversed(ne))  # GGUF lists the innermost dimension first
        n = 1
        for s in ne:
            n *= s
        if ne[0] % block_values:
            raise FormatError("GGUF: %s: row of %d not whole blocks" % (name, ne[0]))
        nbytes = n // block_values * block_bytes
        if name in tensors:
            raise FormatError("GGUF: tensor %s twice" % name)
        tensors[name] = Tensor(name, type_name, shape, data, data_start + offset, nbytes,
                               block_values, block_bytes)
    return kv, tensors


# ---- Hugging Face directory -----------------------------------------------------------


def read_safetensors(path):
    buf = np.memmap(path, dtype=np.uint8, mode="r")
    data = memoryview(buf)
    if len(data) < 8:
        raise FormatError("%s: shorter than the header length" % path)
    header_len = struct.unpack("<Q", data[:8])[0]
    if header_len > len(data) - 8:
        raise FormatError("%s: header of %d bytes past the end" % (path, header_len))
    header = json.loads(bytes(data[8:8 + header_len]).decode("utf-8"))
    base = 8 + header_len
    tensors = {}
    for name, info in header.items():
        if name == "__metadata__":
            continue
        dtype = info["dtype"]
        if dtype not in SAFETENSORS_TYPES:
            raise FormatError("%s: %s: dtype %s not supported by the reference" % (path, name, dtype))
        begin, end = info["data_offsets"]
        if not 0 <= begin <= end <= len(data) - base:
            raise FormatError("%s: %s: offsets [%d, %d) outside the data" % (path, name, begin, end))
        type_name, block_values, block_bytes = SAFETENSORS_TYPES[dtype]
        tensors[name] = Tensor(name, type_name, info["shape"], data, base + begin, end - begin,
                               block_values, block_bytes)
    return tensors


def read_hf_dir(path):
    """Returns (config dict, {name: Tensor}) from config.json + (sharded) safetensors."""
    with open(os.path.join(path, "config.json"), encoding="utf-8") as f:
        config = json.load(f)
    index = os.path.join(path, "model.safetensors.index.json")
    if os.path.exists(index):
        with open(index, encoding="utf-8") as f:
            weight_map = json.load(f)["weight_map"]
        files = sorted(set(weight_map.values()))
    else:
        weight_map, files = None, ["model.safetensors"]
    tensors = {}
    for name in files:
        if os.path.basename(name) != name:
            raise FormatError("%s: shard name %r leaves the directory" % (index, name))
        for tname, t in read_safetensors(os.path.join(path, name)).items():
            if tname in tensors:
                raise FormatError("%s: tensor %s in two shards" % (path, tname))
            tensors[tname] = t
    if weight_map is not None:
        for tname, fname in weight_map.items():
            if tname not in tensors:
                raise FormatError("%s: index names %s in %s, not found" % (path, tname, fname))
    return config, tensors


# ---- the model ------------------------------------------------------------------------


class Config:
    def __init__(self, n_layers, hidden, ffn, n_heads, n_kv_heads, head_dim, rope_theta, rms_eps):
        self.n_layers = n_layers
        self.hidden = hidden
        self.ffn = ffn
        self.n_heads = n_heads
        self.n_kv_heads = n_kv_heads
        self.head_dim = head_dim
        self.rope_theta = rope_theta
        self.rms_eps = rms_eps
        if n_heads % n_kv_heads:
            raise FormatError("%d heads do not share %d KV heads evenly" % (n_heads, n_kv_heads))
        if head_dim % 2:
            raise FormatError("head_dim %d is odd: RoPE pairs i and i+head_dim/2" % head_dim)

    def __repr__(self):
        return ("layers %d hidden %d ffn %d heads %d kv_heads %d head_dim %d theta %g eps %g"
                % (self.n_layers, self.hidden, self.ffn, self.n_heads, self.n_kv_heads,
                   self.head_dim, self.rope_theta, self.rms_eps))


# Per-layer weight names: (ours, GGUF, Hugging Face without the "model." prefix).
LAYER_WEIGHTS = [
    ("attn_norm", "blk.%d.attn_norm.weight", "layers.%d.input_layernorm.weight"),
    ("wq", "blk.%d.attn_q.weight", "layers.%d.self_attn.q_proj.weight"),
    ("wk", "blk.%d.attn_k.weight", "layers.%d.self_attn.k_proj.weight"),
    ("wv", "blk.%d.attn_v.weight", "layers.%d.self_attn.v_proj.weight"),
    ("q_norm", "blk.%d.attn_q_norm.weight", "layers.%d.self_attn.q_norm.weight"),
    ("k_norm", "blk.%d.attn_k_norm.weight", "layers.%d.self_attn.k_norm.weight"),
    ("wo", "blk.%d.attn_output.weight", "layers.%d.self_attn.o_proj.weight"),
    ("ffn_norm", "blk.%d.ffn_norm.weight", "layers.%d.post_attention_layernorm.weight"),
    ("w_gate", "blk.%d.ffn_gate.weight", "layers.%d.mlp.gate_proj.weight"),
    ("w_up", "blk.%d.ffn_up.weight", "layers.%d.mlp.up_proj.weight"),
    ("w_down", "blk.%d.ffn_down.weight", "layers.%d.mlp.down_proj.weight"),
]


class Model:
    """Weights of one Qwen3 model, from a GGUF file or a Hugging Face directory."""

    def __init__(self, path):
        self.path = path
        if os.path.isdir(path):
            self._open_hf(path)
        else:
            self._open_gguf(path)
        c = self.config
        hd = c.head_dim
        expect = {
            "attn_norm": (c.hidden,), "ffn_norm": (c.hidden,),
            "wq": (c.n_heads * hd, c.hidden), "wk": (c.n_kv_heads * hd, c.hidden),
            "wv": (c.n_kv_heads * hd, c.hidden), "wo": (c.hidden, c.n_heads * hd),
            "q_norm": (hd,), "k_norm": (hd,),
            "w_gate": (c.ffn, c.hidden), "w_up": (c.ffn, c.hidden), "w_down": (c.hidden, c.ffn),
        }
        for layer in range(c.n_layers):
            for ours, t in self._layer_tensors(layer).items():
                if t.shape != expect[ours]:
                    raise FormatError("%s: shape %s, expected %s" % (t.name, t.shape, expect[ours]))
        if self.token_embd.shape[-1] != c.hidden or self.output_norm.shape != (c.hidden,):
            raise FormatError("embedding or final norm does not match hidden %d" % c.hidden)
        if self.head.shape[-1] != c.hidden:
            raise FormatError("%s: rows of %d, hidden is %d" % (self.head.name, self.head.shape[-1], c.hidden))
        # Small models keep their widened layers; big ones re-widen per forward.
        per_layer = sum(int(np.prod(s)) for s in expect.values())
        self._cache = {} if per_layer * c.n_layers <= 64 << 20 else None

    def _open_gguf(self, path):
        kv, self.tensors = read_gguf(path)
        self.file_format = "gguf"
        arch = kv.get("general.architecture", "qwen3")

        def key(name, default=None):
            full = arch + "." + name
            if full in kv:
                return kv[full]
            if default is None:
                raise FormatError("GGUF: %s missing" % full)
            return default

        n_heads = int(key("attention.head_count"))
        hidden = int(key("embedding_length"))
        self.config = Config(
            n_layers=int(key("block_count")), hidden=hidden, ffn=int(key("feed_forward_length")),
            n_heads=n_heads, n_kv_heads=int(key("attention.head_count_kv", n_heads)),
            head_dim=int(key("attention.key_length", hidden // n_heads)),
            rope_theta=float(key("rope.freq_base", 10000.0)),
            rms_eps=float(key("attention.layer_norm_rms_epsilon", 1e-6)))
        self._layer_names = {ours: gg for ours, gg, _ in LAYER_WEIGHTS}
        self.token_embd = self._need("token_embd.weight")
        self.output_norm = self._need("output_norm.weight")
        # The yes/no head: a rerank GGUF's [2, hidden] classifier (row 0 yes,
        # row 1 no); else an untied output.weight; else the tied embeddings.
        if "cls.output.weight" in self.tensors:
            self.head, self.head_rows = self.tensors["cls.output.weight"], (0, 1)
        elif "output.weight" in self.tensors:
            self.head, self.head_rows = self.tensors["output.weight"], (YES_ID, NO_ID)
        else:
            self.head, self.head_rows = self.token_embd, (YES_ID, NO_ID)

    def _open_hf(self, path):
        cfg, self.tensors = read_hf_dir(path)
        self.file_format = "huggingface"
        n_heads = int(cfg["num_attention_heads"])
        hidden = int(cfg["hidden_size"])
        self.config = Config(
            n_layers=int(cfg["num_hidden_layers"]), hidden=hidden, ffn=int(cfg["intermediate_size"]),
            n_heads=n_heads, n_kv_heads=int(cfg.get("num_key_value_heads") or n_heads),
            head_dim=int(cfg.get("head_dim") or hidden // n_heads),
            rope_theta=float(cfg.get("rope_theta", 10000.0)),
            rms_eps=float(cfg.get("rms_norm_eps", 1e-6)))
        self._layer_names = {ours: hf for ours, _, hf in LAYER_WEIGHTS}
        self.token_embd = self._need("embed_tokens.weight")
        self.output_norm = self._need("norm.weight")
        if cfg.get("tie_word_embeddings", True):
            self.head, self.head_rows = self.token_embd, (YES_ID, NO_ID)
        else:
            self.head, self.head_rows = self._need("lm_head.weight"), (YES_ID, NO_ID)

    def _need(self, name):
        # Hugging Face files may spell names with or without "model."; GGUF never does.
        for candidate in (name, "model." + name):
            if candidate in self.tensors:
                return self.tensors[candidate]
        raise FormatError("%s: tensor %s missing" % (self.path, name))

    def _layer_tensors(self, layer):
        return {ours: self._need(pattern % layer) for ours, pattern in self._layer_names.items()}

    def layer(self, layer):
        """The widened weights of one layer: a dict of float64 arrays."""
        if self._cache is not None and layer in self._cache:
            return self._cache[layer]
        w = {ours: t.array() for ours, t in self._layer_tensors(layer).items()}
        if self._cache is not None:
            self._cache[layer] = w
        return w

    def weight_type(self):
        """The type of the matrix weights (that of layer 0's q projection)."""
        return self._layer_tensors(0)["wq"].type_name

    def yes_no_rows(self):
        return self.head.row(self.head_rows[0]), self.head.row(self.head_rows[1])


# ---- the forward pass -----------------------------------------------------------------


def rmsnorm(x, weight, eps):
    """x / sqrt(mean(x^2) + eps) * weight, over the last axis."""
    return x / np.sqrt(np.mean(x * x, axis=-1, keepdims=True) + eps) * weight


def rope_neox(x, positions, theta):
    """Rotate-half RoPE on x of shape [n, heads, head_dim]: dims i and i + head_dim/2
    of a head turn together by angle pos * theta^(-2i/head_dim)."""
    head_dim = x.shape[-1]
    half = head_dim // 2
    inv_freq = theta ** (-2.0 * np.arange(half) / head_dim)  # [half]
    angle = positions[:, None].astype(np.float64) * inv_freq[None, :]  # [n, half]
    cos = np.cos(angle)[:, None, :]
    sin = np.sin(angle)[:, None, :]
    x1, x2 = x[..., :half], x[..., half:]
    return np.concatenate([x1 * cos - x2 * sin, x2 * cos + x1 * sin], axis=-1)


def softmax(x):
    e = np.exp(x - np.max(x, axis=-1, keepdims=True))
    return e / np.sum(e, axis=-1, keepdims=True)


def silu(x):
    return x / (1.0 + np.exp(-x))


def forward(model, ids):
    """Token ids -> final-norm hidden states, float64 [n, hidden]."""
    c = model.config
    ids = [int(i) for i in ids]
    if not ids:
        raise ValueError("no tokens")
    n, hd = len(ids), c.head_dim
    group = c.n_heads // c.n_kv_heads
    positions = np.arange(n)
    causal = np.triu(np.ones((n, n), dtype=bool), k=1)  # True above the diagonal: the future

    h = model.token_embd.rows(ids)  # [n, hidden]
    for layer in range(c.n_layers):
        w = model.layer(layer)

        # attention
        xb = rmsnorm(h, w["attn_norm"], c.rms_eps)
        q = (xb @ w["wq"].T).reshape(n, c.n_heads, hd)
        k = (xb @ w["wk"].T).reshape(n, c.n_kv_heads, hd)
        v = (xb @ w["wv"].T).reshape(n, c.n_kv_heads, hd)
        q = rmsnorm(q, w["q_norm"], c.rms_eps)  # per head, over head_dim
        k = rmsnorm(k, w["k_norm"], c.rms_eps)
        q = rope_neox(q, positions, c.rope_theta)
        k = rope_neox(k, positions, c.rope_theta)
        att_out = np.zeros((n, c.n_heads, hd))
        for head in range(c.n_heads):
            kv_head = head // group
            scores = q[:, head, :] @ k[:, kv_head, :].T / math.sqrt(hd)  # [n query, n key]
            scores[causal] = -np.inf
            att_out[:, head, :] = softmax(scores) @ v[:, kv_head, :]
        h = h + att_out.reshape(n, c.n_heads * hd) @ w["wo"].T

        # feed-forward (SwiGLU)
        xb = rmsnorm(h, w["ffn_norm"], c.rms_eps)
        gate = xb @ w["w_gate"].T
        up = xb @ w["w_up"].T
        h = h + (silu(gate) * up) @ w["w_down"].T

    return rmsnorm(h, model.output_norm.array(), c.rms_eps)


def rerank_logit(model, ids):
    """logit(yes) - logit(no) at the last position of a full reranker prompt."""
    h_last = forward(model, ids)[-1]
    w_yes, w_no = model.yes_no_rows()
    return float((w_yes - w_no) @ h_last)


def rerank_score(model, ids):
    """P(yes) = softmax([logit_no, logit_yes])[1] = sigmoid(logit_yes - logit_no)."""
    return 1.0 / (1.0 + math.exp(-rerank_logit(model, ids)))


def embed(model, ids, dims=None):
    """The last token's final-norm hidden state (the caller appends <|endoftext|>),
    truncated to `dims` (MRL) and then L2-normalised."""
    v = forward(model, ids)[-1]
    if dims is not None:
        v = v[:dims]
    return v / np.linalg.norm(v)


# ---- command line ---------------------------------------------------------------------


def main(argv):
    if len(argv) < 3 or argv[1] not in ("info", "rerank", "embed"):
        sys.stderr.write(__doc__)
        return 2
    model = Model(argv[2])
    if argv[1] == "info":
        print("%s (%s): %s" % (argv[2], model.file_format, model.config))
        print("yes/no head: %s rows %s" % (model.head.name, model.head_rows))
        for name, t in sorted(model.tensors.items()):
            print("  %-48s %-5s %s" % (name, t.type_name, list(t.shape)))
        return 0
    with open(argv[3], encoding="utf-8") as f:
        prompts = json.load(f)
    if argv[1] == "rerank":
        for ids in prompts:
            print(json.dumps(rerank_score(model, ids)))
    else:
        dims = int(argv[argv.index("--dims") + 1]) if "--dims" in argv else None
        for ids in prompts:
            print(json.dumps([float(x) for x in embed(model, ids, dims)]))
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv))
