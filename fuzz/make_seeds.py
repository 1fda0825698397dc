#!/usr/bin/env python3
"""make_seeds.py - writes the committed seed corpora of the fuzz targets
(fuzz/corpus/<target>/). Seeds are small valid inputs of every shape a
target reads (so the fuzzer starts past the first checks) plus a few known
edge cases; the fuzzer mutates from there. Deterministic: run it again and
git shows no change. Usage: python3 fuzz/make_seeds.py"""
import json
import os
import struct

HERE = os.path.dirname(os.path.abspath(__file__))


def write(target, name, data):
    d = os.path.join(HERE, "corpus", target)
    os.makedirs(d, exist_ok=True)
    if isinstance(data, str):
        data = data.encode()
    with open(os.path.join(d, name), "wb") as f:
        f.write(data)


# ---- GGUF -----------------------------------------------------------------------------------

def gg_str(s):
    b = s.encode()
    return struct.pack("<Q", len(b)) + b


def gg_kv(key, kind, value):
    types = {"u8": 0, "i8": 1, "u16": 2, "i16": 3, "u32": 4, "i32": 5, "f32": 6, "bool": 7,
             "str": 8, "u64": 10, "i64": 11, "f64": 12}
    fmt = {"u8": "B", "i8": "b", "u16": "H", "i16": "h", "u32": "I", "i32": "i", "f32": "f",
           "bool": "B", "u64": "Q", "i64": "q", "f64": "d"}
    if kind == "str":
        return gg_str(key) + struct.pack("<I", 8) + gg_str(value)
    if kind.startswith("arr:"):
        elem = kind[4:]
        body = b"".join(gg_str(v) for v in value) if elem == "str" else \
            b"".join(struct.pack("<" + fmt[elem], v) for v in value)
        return gg_str(key) + struct.pack("<IIQ", 9, types[elem], len(value)) + body
    return gg_str(key) + struct.pack("<I", types[kind]) + struct.pack("<" + fmt[kind], value)


def f16_bytes(n):
    return b"".join(struct.pack("<e", (i % 7) * 0.25 - 0.5) for i in range(n))


def q8_0_bytes(n):
    out = b""
    for b in range(n // 32):
        out += struct.pack("<e", 0.01 * (b + 1)) + bytes((i * 5 + b) % 256 for i in range(32))
    return out


def gguf(version=3, alignment=32, tensors=None, kvs=None):
    tensors = tensors if tensors is not None else [
        ("token_embd.weight", [32, 4], 1, f16_bytes(32 * 4)),
        ("blk.0.attn_q.weight", [32, 2], 8, q8_0_bytes(64)),
        ("output_norm.weight", [32], 0, struct.pack("<32f", *[1.0] * 32)),
        ("cls.output.weight", [32, 2], 30, bytes(range(128))),
    ]
    kvs = kvs if kvs is not None else [
        gg_kv("general.architecture", "str", "qwen3"),
        gg_kv("general.alignment", "u32", alignment),
        gg_kv("qwen3.block_count", "u32", 1),
        gg_kv("qwen3.rope.freq_base", "f32", 1000000.0),
        gg_kv("qwen3.attention.layer_norm_rms_epsilon", "f64", 1e-6),
        gg_kv("tokenizer.ggml.tokens", "arr:str", ["a", "b", "ab", "\u0120the", "<|im_end|>"]),
        gg_kv("tokenizer.ggml.token_type", "arr:i32", [1, 1, 1, 1, 3]),
        gg_kv("tokenizer.ggml.merges", "arr:str", ["a b"]),
        gg_kv("tokenizer.ggml.add_bos_token", "bool", 0),
        gg_kv("general.quantization_version", "u64", 2),
        gg_kv("x.small", "arr:u8", [1, 2, 3]),
        gg_kv("x.signed", "arr:i16", [-1, 2]),
        gg_kv("x.wide", "i64", -5),
    ]
    infos, data, offset = b"", b"", 0
    for name, ne, t, payload in tensors:
        infos += gg_str(name) + struct.pack("<I", len(ne)) + b"".join(struct.pack("<Q", n) for n in ne)
        infos += struct.pack("<IQ", t, offset)
        pad = -len(payload) % alignment
        data += payload + b"\0" * pad
        offset += len(payload) + pad
    head = b"GGUF" + struct.pack("<I", version)
    head += struct.pack("<QQ", len(tensors), len(kvs)) if version >= 2 else \
        struct.pack("<II", len(tensors), len(kvs))
    head += b"".join(kvs) + infos
    head += b"\0" * (-len(head) % alignment)
    return head + data


write("fuzz_gguf", "v3-four-types.gguf", gguf())
write("fuzz_gguf", "v2.gguf", gguf(version=2))
write("fuzz_gguf", "align-64.gguf", gguf(alignment=64))
write("fuzz_gguf", "no-tensors.gguf", gguf(tensors=[]))
write("fuzz_gguf", "empty-kv.gguf", gguf(kvs=[], tensors=[("t", [32, 1], 0, bytes(128))]))
write("fuzz_gguf", "truncated.gguf", gguf()[:200])

# ---- safetensors ----------------------------------------------------------------------------

def safetensors(entries, meta=True, pad=True):
    header, data, offset = {}, b"", 0
    for name, dtype, shape, payload in entries:
        header[name] = {"dtype": dtype, "shape": shape, "data_offsets": [offset, offset + len(payload)]}
        data += payload
        offset += len(payload)
    if meta:
        header["__metadata__"] = {"format": "pt"}
    text = json.dumps(header, separators=(",", ":")).encode()
    if pad:
        text += b" " * (-len(text) % 8)
    return struct.pack("<Q", len(text)) + text + data


write("fuzz_safetensors", "three-dtypes.safetensors", safetensors([
    ("model.embed_tokens.weight", "BF16", [4, 32], bytes(range(256))),
    ("model.norm.weight", "F32", [32], struct.pack("<32f", *[1.0] * 32)),
    ("model.layers.0.mlp.up_proj.weight", "F16", [2, 32], f16_bytes(64)),
]))
write("fuzz_safetensors", "no-metadata.safetensors",
      safetensors([("lm_head.weight", "F32", [2, 4], bytes(32))], meta=False, pad=False))
write("fuzz_safetensors", "empty.safetensors", safetensors([]))
write("fuzz_safetensors", "scalar.safetensors", safetensors([("s", "F32", [], bytes(4))]))

# ---- config.json ----------------------------------------------------------------------------

qwen3 = {
    "architectures": ["Qwen3ForCausalLM"], "model_type": "qwen3", "hidden_size": 1024,
    "intermediate_size": 3072, "num_hidden_layers": 28, "num_attention_heads": 16,
    "num_key_value_heads": 8, "head_dim": 128, "vocab_size": 151669,
    "max_position_embeddings": 40960, "rope_theta": 1000000, "rms_norm_eps": 1e-06,
    "tie_word_embeddings": True, "torch_dtype": "bfloat16", "rope_scaling": None,
}
write("fuzz_hf_config", "qwen3-0.6b.json", json.dumps(qwen3, indent=2))
small = dict(qwen3, hidden_size=64, intermediate_size=128, num_hidden_layers=2,
             num_attention_heads=4, num_key_value_heads=2)
del small["head_dim"]
write("fuzz_hf_config", "no-head-dim.json", json.dumps(small))
write("fuzz_hf_config", "seq-cls.json", json.dumps(dict(
    qwen3, architectures=["Qwen3ForSequenceClassification"], tie_word_embeddings=False)))
write("fuzz_hf_config", "not-object.json", "[1, 2]")

# ---- tokenizer text -------------------------------------------------------------------------

texts = {
    "english.txt": "Stable Diffusion vs Midjourney: which one is better for beginners? I've tried both.",
    "chinese.txt": "今天用 SD 画了一张图，效果比 MJ 好多了！价格呢？",
    "mixed-numbers.txt": "v1.5 vs SDXL 1.0 — 12345678 steps, 3.14159, 1,000,000 users",
    "emoji.txt": "🔥🔥 new model 👩‍👩‍👧‍👦 flags 🇯🇵🇨🇳",
    "special-tokens.txt": "a <|im_end|>\n<|im_start|>assistant\n<think>\n\n</think>\n\nyes<|endoftext|>",
    "invalid-utf8.bin": b"ok \xff\xfe bad \xc3\x28 \xe2\x82 \xf0\x90\x80 \xed\xa0\x80 end",
    "nul-and-controls.bin": b"a\x00b\x01\x02\x7f\r\n\t c",
    "combining.txt": "e\u0301 A\u030a \u1100\u1161\u11a8 \u212b \u0958 ﬁ",
    "whitespace.txt": "   \n\n\n\t\t  x    \u3000\u00a0 y\r\n",
    "contractions.txt": "I'm you're he'll we've they'd IT'S don't",
    "rtl.txt": "مرحبا بالعالم שלום עולם नमस्ते ภาษาไทย",
}
for name, text in texts.items():
    write("fuzz_tokenizer", name, text)

# ---- requests: first byte picks the route (fuzz_request.c's PATHS), the rest is the body ----

ROUTES = {"/v1/rerank": 0, "/rerank": 1, "/v2/rerank": 2, "/api/predict": 3, "/v1/embeddings": 4,
          "/health": 5, "/v1/models": 6, "/metrics": 7}
requests = [
    ("cohere.json", "/v1/rerank", {"model": "m", "query": "best sampler", "top_n": 2,
                                   "return_documents": True,
                                   "documents": ["Euler a is fast", {"text": "DPM++ 2M Karras"}, "cats"]}),
    ("tei.json", "/rerank", {"query": "q", "texts": ["a", "b"], "raw_scores": True, "return_text": True,
                             "truncate": True, "truncation_direction": "Right"}),
    ("v2.json", "/v2/rerank", {"model": "m", "query": "画图", "documents": ["价格", "教程"],
                               "max_tokens_per_doc": 16}),
    ("instruction.json", "/v1/rerank", {"query": "q", "documents": ["d"], "instruction": "Judge posts"}),
    ("predict.json", "/api/predict", {"data": ["query", "doc one\n  doc two  \n\n", "", 8]}),
    ("embed-string.json", "/v1/embeddings", {"input": "hello", "model": "e", "encoding_format": "base64"}),
    ("embed-list.json", "/v1/embeddings", {"input": ["a", "b"], "dimensions": 32, "instruction": "x"}),
    ("special-tokens.json", "/v1/rerank", {"query": "<|im_end|>", "documents": ["<|im_start|>system\n"]}),
    ("escapes.json", "/v1/rerank", {"query": "\ud83d\ude00 \u00e9", "documents": ["\\u0000 is text", "tab\there"]}),
]
for name, route, body in requests:
    write("fuzz_request", name, bytes([ROUTES[route]]) + json.dumps(body).encode())
write("fuzz_request", "nul-escape.json", bytes([0]) + b'{"query":"q","documents":["a\\u0000b"]}')
write("fuzz_request", "deep.json", bytes([0]) + b"[" * 2000)
write("fuzz_request", "trailing.json", bytes([2]) + b'{"query":"q","documents":["a"]} x')
write("fuzz_request", "health.txt", bytes([5]))
write("fuzz_request", "models.txt", bytes([6]))
write("fuzz_request", "metrics.txt", bytes([7]))
