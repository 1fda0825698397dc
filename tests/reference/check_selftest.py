#!/usr/bin/python3
"""check_selftest.py - checks the reference itself, without the engine or the generator.

  check_selftest.py [WORK_DIR]

The reference is the yardstick, so it gets checks of its own that do not
lean on the code it judges. This file writes tiny models with its own
minimal writers (GGUF v3 and safetensors, following the format specs) and
checks:
  - readers: every type (F32, F16, BF16, Q8_0) reads back the values written,
    on non-square shapes (so a swapped shape shows); a hand-assembled Q8_0
    block gives hand-computed values; hostile files raise FormatError;
  - formats: the same weights as GGUF, as one safetensors file and as three
    shards without "model." give the same hidden states;
  - forward: causality (a prefix's states do not depend on later tokens),
    RoPE depends only on relative position, the GQA rule (head h reads KV
    head h // group) equals a model with the KV heads written out, and the
    cls.output rows (yes = 0, no = 1) equal the tied rows 9693 / 2152.
"""

import json
import os
import struct
import sys
import tempfile

import numpy as np

HERE = os.path.dirname(os.path.abspath(__file__))
sys.path.insert(0, HERE)
import qwen3_ref  # noqa: E402

VOCAB = 9700  # just past the "yes" id 9693


# ---- minimal writers ------------------------------------------------------------------


def to_f16(x):
    return np.asarray(x, dtype=np.float64).astype("<f2")


def to_bf16_bits(x):
    bits = np.asarray(x, dtype=np.float64).astype("<f4").view("<u4").astype(np.uint64)
    rounded = (bits + 0x7FFF + ((bits >> 16) & 1)) >> 16  # round to nearest even
    return rounded.astype("<u2")


def encode(x, type_name):
    """Bytes of x in a type, and the float64 values those bytes stand for."""
    x = np.asarray(x, dtype=np.float64)
    if type_name == "F32":
        v = x.astype("<f4")
        return v.tobytes(), v.astype(np.float64)
    if type_name == "F16":
        v = to_f16(x)
        return v.tobytes(), v.astype(np.float64)
    if type_name == "BF16":
        b = to_bf16_bits(x)
        return b.tobytes(), (b.astype(np.uint32) << 16).view("<f4").astype(np.float64).reshape(x.shape)
    if type_name == "Q8_0":
        blocks = x.reshape(-1, 32)
        out, values = bytearray(), []
        for blk in blocks:
            d = to_f16(np.abs(blk).max() / 127.0)
            q = np.clip(np.round(blk / d.astype(np.float64)), -128, 127).astype(np.int8) if d else np.zeros(32, np.int8)
            out += d.tobytes() + q.tobytes()
            values.append(float(d) * q.astype(np.float64))
        return bytes(out), np.concatenate(values).reshape(x.shape)
    raise ValueError(type_name)


GGML_IDS = {"F32": 0, "F16": 1, "Q8_0": 8, "BF16": 30}


def gguf_string(s):
    b = s.encode("utf-8")
    return struct.pack("<Q", len(b)) + b


def write_gguf(path, kvs, tensors):
    """kvs: {key: (gguf type, value)}; tensors: {name: (type name, array)}.
    Returns {name: float64 values as stored}."""
    out = bytearray(b"GGUF" + struct.pack("<IQQ", 3, len(tensors), len(kvs)))
    for key, (vtype, value) in kvs.items():
        out += gguf_string(key) + struct.pack("<I", vtype)
        if vtype == 4:
            out += struct.pack("<I", value)
        elif vtype == 6:
            out += struct.pack("<f", value)
        elif vtype == 8:
            out += gguf_string(value)
        else:
            raise ValueError(vtype)
    blobs, stored, offset = [], {}, 0
    for name, (type_name, arr) in tensors.items():
        raw, stored[name] = encode(arr, type_name)
        out += gguf_string(name) + struct.pack("<I", arr.ndim)
        out += b"".join(struct.pack("<Q", d) for d in reversed(arr.shape))
        out += struct.pack("<IQ", GGML_IDS[type_name], offset)
        blobs.append(raw + b"\0" * (-len(raw) % 32))
        offset += len(blobs[-1])
    out += b"\0" * (-len(out) % 32)
    with open(path, "wb") as f:
        f.write(bytes(out) + b"".join(blobs))
    return stored


def write_safetensors(path, tensors):
    header, blobs, offset, stored = {}, [], 0, {}
    for name, (type_name, arr) in tensors.items():
        raw, stored[name] = encode(arr, type_name)
        header[name] = {"dtype": type_name, "shape": list(arr.shape), "data_offsets": [offset, offset + len(raw)]}
        blobs.append(raw)
        offset += len(raw)
    text = json.dumps(header).encode("utf-8")
    text += b" " * (-len(text) % 8)
    with open(path, "wb") as f:
        f.write(struct.pack("<Q", len(text)) + text + b"".join(blobs))
    return stored


# ---- a tiny random model --------------------------------------------------------------


def random_weights(rng, layers, hidden, ffn, heads, kv_heads, head_dim, with_cls):
    w = {"token_embd.weight": rng.normal(0, 1.0, (VOCAB, hidden)),
         "output_norm.weight": 1.0 + rng.normal(0, 0.1, hidden)}
    for l in range(layers):
        p = "blk.%d." % l
        w[p + "attn_norm.weight"] = 1.0 + rng.normal(0, 0.1, hidden)
        w[p + "ffn_norm.weight"] = 1.0 + rng.normal(0, 0.1, hidden)
        w[p + "attn_q_norm.weight"] = 1.0 + rng.normal(0, 0.1, head_dim)
        w[p + "attn_k_norm.weight"] = 1.0 + rng.normal(0, 0.1, head_dim)
        w[p + "attn_q.weight"] = rng.normal(0, hidden ** -0.5, (heads * head_dim, hidden))
        w[p + "attn_k.weight"] = rng.normal(0, hidden ** -0.5, (kv_heads * head_dim, hidden))
        w[p + "attn_v.weight"] = rng.normal(0, hidden ** -0.5, (kv_heads * head_dim, hidden))
        w[p + "attn_output.weight"] = rng.normal(0, (heads * head_dim) ** -0.5, (hidden, heads * head_dim))
        w[p + "ffn_gate.weight"] = rng.normal(0, hidden ** -0.5, (ffn, hidden))
        w[p + "ffn_up.weight"] = rng.normal(0, hidden ** -0.5, (ffn, hidden))
        w[p + "ffn_down.weight"] = rng.normal(0, ffn ** -0.5, (hidden, ffn))
    if with_cls:
        w["cls.output.weight"] = rng.normal(0, 0.3, (2, hidden))
    return w


def gguf_kvs(layers, hidden, ffn, heads, kv_heads, head_dim):
    return {"general.architecture": (8, "qwen3"), "qwen3.block_count": (4, layers),
            "qwen3.embedding_length": (4, hidden), "qwen3.feed_forward_length": (4, ffn),
            "qwen3.attention.head_count": (4, heads), "qwen3.attention.head_count_kv": (4, kv_heads),
            "qwen3.attention.key_length": (4, head_dim), "qwen3.attention.value_length": (4, head_dim),
            "qwen3.rope.freq_base": (6, 1000000.0), "qwen3.attention.layer_norm_rms_epsilon": (6, 1e-6)}


HF_NAMES = {"token_embd": "embed_tokens", "output_norm": "norm", "attn_norm": "input_layernorm",
            "ffn_norm": "post_attention_layernorm", "attn_q_norm": "self_attn.q_norm",
            "attn_k_norm": "self_attn.k_norm", "attn_q": "self_attn.q_proj", "attn_k": "self_attn.k_proj",
            "attn_v": "self_attn.v_proj", "attn_output": "self_attn.o_proj", "ffn_gate": "mlp.gate_proj",
            "ffn_up": "mlp.up_proj", "ffn_down": "mlp.down_proj"}


def hf_name(gguf_name, prefix):
    parts = gguf_name.split(".")
    if parts[0] == "blk":
        return "%slayers.%s.%s.weight" % (prefix, parts[1], HF_NAMES[parts[2]])
    return prefix + HF_NAMES[parts[0]] + ".weight"


def write_hf(directory, weights, shape, prefix, shards):
    layers, hidden, ffn, heads, kv_heads, head_dim = shape
    os.makedirs(directory, exist_ok=True)
    config = {"architectures": ["Qwen3ForCausalLM"], "model_type": "qwen3", "num_hidden_layers": layers,
              "hidden_size": hidden, "intermediate_size": ffn, "num_attention_heads": heads,
              "num_key_value_heads": kv_heads, "head_dim": head_dim, "rope_theta": 1000000.0,
              "rms_norm_eps": 1e-6, "vocab_size": VOCAB, "tie_word_embeddings": True}
    with open(os.path.join(directory, "config.json"), "w") as f:
        json.dump(config, f)
    named = {hf_name(k, prefix): ("F32", v) for k, v in weights.items() if k != "cls.output.weight"}
    names = sorted(named)
    if shards == 1:
        write_safetensors(os.path.join(directory, "model.safetensors"), named)
        return
    weight_map = {}
    for s in range(shards):
        fname = "model-%05d-of-%05d.safetensors" % (s + 1, shards)
        part = {n: named[n] for n in names[s::shards]}
        write_safetensors(os.path.join(directory, fname), part)
        weight_map.update({n: fname for n in part})
    with open(os.path.join(directory, "model.safetensors.index.json"), "w") as f:
        json.dump({"metadata": {}, "weight_map": weight_map}, f)


# ---- checks ---------------------------------------------------------------------------


class Checks:
    def __init__(self):
        self.failed = 0
        self.passed = 0

    def close(self, label, got, want, tol):
        got, want = np.asarray(got, np.float64), np.asarray(want, np.float64)
        diff = float(np.abs(got - want).max()) if got.shape == want.shape else float("inf")
        ok = diff <= tol
        print("%-58s max|diff| %.2e (tol %.0e) %s" % (label, diff, tol, "ok" if ok else "FAIL"))
        self.passed += ok
        self.failed += not ok

    def true(self, label, cond):
        print("%-58s %s" % (label, "ok" if cond else "FAIL"))
        self.passed += bool(cond)
        self.failed += not cond


def check_readers(c, tmp, rng):
    arrays = {"a": rng.normal(0, 1, (3, 64)), "b": rng.normal(0, 1, (5, 96)), "n": rng.normal(0, 1, 32)}
    for type_name in ("F32", "F16", "BF16", "Q8_0"):
        path = os.path.join(tmp, "types-%s.gguf" % type_name)
        spec = {k: ("F32" if k == "n" else type_name, v) for k, v in arrays.items()}
        stored = write_gguf(path, {"general.architecture": (8, "qwen3")}, spec)
        _, tensors = qwen3_ref.read_gguf(path)
        for k in arrays:
            c.close("GGUF %s %s shape %s" % (spec[k][0], k, arrays[k].shape), tensors[k].array(), stored[k], 0)
        c.close("GGUF %s row 3 of b" % type_name, tensors["b"].row(3), stored["b"][3], 0)
        if type_name != "Q8_0":
            st_path = os.path.join(tmp, "types-%s.safetensors" % type_name)
            stored = write_safetensors(st_path, spec)
            st = qwen3_ref.read_safetensors(st_path)
            c.close("safetensors %s b" % type_name, st["b"].array(), stored["b"], 0)
    # What the bytes mean, by hand: d = 0.5 (f16 0x3800), q = -128, -1, 0, 1, 127, ...
    q = np.array([-128, -1, 0, 1, 127] + [2] * 27, dtype=np.int8)
    raw = struct.pack("<H", 0x3800) + q.tobytes()
    c.close("Q8_0 block by hand", qwen3_ref.widen("Q8_0", raw, 32)[:6], [-64, -0.5, 0, 0.5, 63.5, 1], 0)
    # Q4_0, d = 0.5: byte 0 = 0x1F is value 0 (low, 15 - 8) and value 16 (high, 1 - 8).
    qs = bytearray(16)
    qs[0], qs[1] = 0x1F, 0x80
    v = qwen3_ref.widen("Q4_0", struct.pack("<H", 0x3800) + bytes(qs), 32)
    c.close("Q4_0 block by hand", [v[0], v[16], v[1], v[17], v[2]], [3.5, -3.5, -4.0, 0.0, -4.0], 0)
    # Q4_K, d = 1, dmin = 0.5: group 0 has sc 1, m 2 (six-bit fields of scales[0], scales[4]);
    # group 5 has sc 42 = 0b10_1010 and m 21 = 0b01_0101: low four bits in scales[9],
    # top two in bits 6-7 of scales[1] (sc) and scales[5] (m). Group 5 is the high nibbles
    # of qs[64..95]; group 4 (low nibbles there) and group 1 have zero scales and mins.
    scales = bytearray(12)
    scales[0], scales[4], scales[9], scales[1], scales[5] = 1, 2, 0x5A, 0x80, 0x40
    qs = bytearray(128)
    qs[0], qs[64] = 0x07, 0x30
    v = qwen3_ref.widen("Q4_K", struct.pack("<HH", 0x3C00, 0x3800) + bytes(scales) + bytes(qs), 256)
    c.close("Q4_K block by hand", [v[0], v[1], v[32], v[128], v[160], v[161]],
            [1 * 7 - 0.5 * 2, -1.0, 0.0, 0.0, 42 * 3 - 0.5 * 21, -10.5], 0)
    # Q6_K, d = 0.5, scales (int8) [0] = -2, [2] = 3, [15] = -128. Value 0: low nibble of
    # ql[0] (5) and bits 0-1 of qh[0] (2) make q = 37; value 32 (group 2) is q = 0; value
    # 255 (second half, l = 31, last quarter): high nibble of ql[127], bits 6-7 of qh[63].
    ql, qh, sc = bytearray(128), bytearray(64), bytearray(16)
    ql[0], qh[0], ql[127], qh[63] = 0x05, 0x02, 0xF0, 0xC0
    sc[0], sc[2], sc[15] = 0xFE, 3, 0x80
    v = qwen3_ref.widen("Q6_K", bytes(ql) + bytes(qh) + bytes(sc) + struct.pack("<H", 0x3800), 256)
    c.close("Q6_K block by hand", [v[0], v[32], v[64], v[255], v[254]],
            [0.5 * -2 * 5, 0.5 * 3 * -32, 0.0, 0.5 * -128 * 31, 0.5 * -128 * -32], 0)
    c.close("BF16 0x3FC0 = 1.5, F16 0x3E00 = 1.5",
            [qwen3_ref.widen("BF16", struct.pack("<H", 0x3FC0), 1)[0],
             qwen3_ref.widen("F16", struct.pack("<H", 0x3E00), 1)[0]], [1.5, 1.5], 0)

    # Hostile files end in FormatError.
    good = os.path.join(tmp, "types-F32.gguf")
    with open(good, "rb") as f:
        blob = f.read()
    for label, bad in [("truncated data", blob[:-40]), ("truncated header", blob[:50]),
                       ("bad magic", b"GGUF"[::-1] + blob[4:])]:
        path = os.path.join(tmp, "bad.gguf")
        with open(path, "wb") as f:
            f.write(bad)
        try:
            qwen3_ref.read_gguf(path)
            c.true("hostile GGUF (%s) rejected" % label, False)
        except qwen3_ref.FormatError as e:
            c.true("hostile GGUF (%s) rejected: %s" % (label, str(e)[:40]), True)


def check_model(c, tmp, rng):
    shape = (2, 64, 96, 4, 2, 32)
    w = random_weights(rng, *shape, with_cls=True)
    kvs = gguf_kvs(*shape)
    gguf = os.path.join(tmp, "m.gguf")
    write_gguf(gguf, kvs, {k: ("F32", v) for k, v in w.items()})
    m = qwen3_ref.Model(gguf)
    ids = [151 % VOCAB, 9693, 2152, 17, 4000, 9001, 5, 5, 5, 333, 9699, 0]
    h = qwen3_ref.forward(m, ids)
    c.true("forward: finite, shape %s" % (h.shape,), h.shape == (len(ids), 64) and np.all(np.isfinite(h)))

    for prefix, shards in (("model.", 1), ("", 3)):
        d = os.path.join(tmp, "hf-%d" % shards)
        write_hf(d, w, shape, prefix, shards)
        mh = qwen3_ref.Model(d)
        c.close("HF (%d shard(s), prefix %r) == GGUF" % (shards, prefix), qwen3_ref.forward(mh, ids), h, 1e-9)

    c.close("causal: states of a prefix ignore later tokens", qwen3_ref.forward(m, ids[:5]), h[:5], 1e-12)

    # RoPE: q.k after rotation depends only on the distance between positions.
    q, k = rng.normal(size=(1, 1, 32)), rng.normal(size=(1, 1, 32))
    dots = []
    for p0 in (0, 7, 1000):
        rq = qwen3_ref.rope_neox(q, np.array([p0 + 5]), 1e6)
        rk = qwen3_ref.rope_neox(k, np.array([p0]), 1e6)
        dots.append(float((rq * rk).sum()))
    c.close("RoPE: q.k depends on relative position only", dots, [dots[0]] * 3, 1e-9)
    r = qwen3_ref.rope_neox(q, np.array([3]), 1e6)
    c.close("RoPE: rotation keeps the norm", np.linalg.norm(r), np.linalg.norm(q), 1e-12)
    # Pair (0, 16) turns by angle pos * theta^0 = pos radians.
    e = np.zeros((1, 1, 32))
    e[0, 0, 0] = 1.0
    r = qwen3_ref.rope_neox(e, np.array([2]), 1e6)[0, 0]
    c.close("RoPE: dims 0 and 16 rotate by pos radians", [r[0], r[16]], [np.cos(2), np.sin(2)], 1e-15)

    # GQA: write the 2 KV heads out as 4 (head h reads KV head h // 2).
    w4 = dict(w)
    for l in range(shape[0]):
        for t in ("attn_k", "attn_v"):
            blocks = w["blk.%d.%s.weight" % (l, t)].reshape(2, 32, 64)
            w4["blk.%d.%s.weight" % (l, t)] = np.concatenate([blocks[0], blocks[0], blocks[1], blocks[1]])
    kvs4 = dict(kvs)
    kvs4["qwen3.attention.head_count_kv"] = (4, 4)
    g4 = os.path.join(tmp, "m4.gguf")
    write_gguf(g4, kvs4, {k: ("F32", v) for k, v in w4.items()})
    c.close("GQA: 2 shared KV heads == 4 written out", qwen3_ref.forward(qwen3_ref.Model(g4), ids), h, 1e-9)

    # The yes/no head: cls rows (yes, no) == tied embedding rows (9693, 2152).
    emb = w["token_embd.weight"]
    wc = dict(w)
    wc["cls.output.weight"] = np.stack([emb[9693], emb[2152]])
    gc, gt = os.path.join(tmp, "cls.gguf"), os.path.join(tmp, "tied.gguf")
    write_gguf(gc, kvs, {k: ("F32", v) for k, v in wc.items()})
    write_gguf(gt, kvs, {k: ("F32", v) for k, v in w.items() if k != "cls.output.weight"})
    sc, st = qwen3_ref.rerank_score(qwen3_ref.Model(gc), ids), qwen3_ref.rerank_score(qwen3_ref.Model(gt), ids)
    c.close("cls rows (yes, no) == tied rows (9693, 2152)", sc, st, 1e-12)
    f32 = emb.astype("<f4").astype(np.float64)  # as stored
    logit = float((f32[9693] - f32[2152]) @ h[-1])
    c.close("score = sigmoid((W[yes] - W[no]) . h_last)", st, 1 / (1 + np.exp(-logit)), 1e-12)
    c.true("score is not saturated (%.4f)" % st, 1e-3 < st < 1 - 1e-3)

    v = qwen3_ref.embed(m, ids, 32)
    c.close("embed --dims 32: first 32 values, renormalised", v, h[-1][:32] / np.linalg.norm(h[-1][:32]), 1e-12)


def main(argv):
    rng = np.random.default_rng(1234)
    c = Checks()
    with tempfile.TemporaryDirectory(dir=argv[1] if len(argv) > 1 else None) as tmp:
        check_readers(c, tmp, rng)
        check_model(c, tmp, rng)
    print("%d checks passed, %d failed: %s" % (c.passed, c.failed, "PASS" if not c.failed else "FAIL"))
    return 1 if c.failed else 0


if __name__ == "__main__":
    sys.exit(main(sys.argv))
