#!/usr/bin/python3
"""check_sensitivity.py - proves the test models and documents can catch the usual bugs.

  check_sensitivity.py QRANK MODELS_DIR MODEL_NAME...

A comparison within 1e-4 only means something if a wrong engine lands
further away than that. This driver builds mutants of qwen3_ref.py, each with
one bug that engines are known to have (the wrong GQA mapping, GPT-J instead
of NeoX RoPE, no q/k norm, no causal mask, a RoPE base or RMSNorm eps not read
from the file, the wrong attention scale, the document tokenized apart from
"<Document>:", a Q4_0/Q4_K/Q6_K block decoded with one bit field wrong), runs them on the test prompts and requires each bug to move
some score by more than 10x the exact tolerance on at least one of the given
models. If the generator's weights or the document set ever stop exposing a
bug, this fails and says which.

The mutants are text replacements in qwen3_ref.py; a replacement that no
longer matches the source is an error, so the list cannot go stale silently.
"""

import os
import sys

import numpy as np

import common
import qwen3_ref

THRESHOLD = 1e-3  # 10x check_rerank's tolerance
SOURCE = os.path.join(os.path.dirname(os.path.abspath(__file__)), "qwen3_ref.py")

MUTANTS = {
    "GQA: head h reads KV head h % n_kv": (
        "kv_head = head // group", "kv_head = head % c.n_kv_heads"),
    "RoPE: GPT-J interleaved pairs": (
        "x1, x2 = x[..., :half], x[..., half:]\n"
        "    return np.concatenate([x1 * cos - x2 * sin, x2 * cos + x1 * sin], axis=-1)",
        "x1, x2 = x[..., 0::2], x[..., 1::2]\n"
        "    out = np.empty_like(x)\n"
        "    out[..., 0::2], out[..., 1::2] = x1 * cos - x2 * sin, x2 * cos + x1 * sin\n"
        "    return out"),
    "no q_norm / k_norm": (
        "q = rmsnorm(q, w[\"q_norm\"], c.rms_eps)  # per head, over head_dim\n"
        "        k = rmsnorm(k, w[\"k_norm\"], c.rms_eps)",
        "pass"),
    "no causal mask": ("scores[causal] = -np.inf", "pass"),
    "RoPE base fixed at 1e6": (
        "q = rope_neox(q, positions, c.rope_theta)\n        k = rope_neox(k, positions, c.rope_theta)",
        "q = rope_neox(q, positions, 1e6)\n        k = rope_neox(k, positions, 1e6)"),
    "RMSNorm eps fixed at 1e-6": (
        "np.mean(x * x, axis=-1, keepdims=True) + eps)", "np.mean(x * x, axis=-1, keepdims=True) + 1e-6)"),
    "attention scale 1/sqrt(hidden/heads)": ("/ math.sqrt(hd)", "/ math.sqrt(c.hidden / c.n_heads)"),
    "final norm skipped": ("return rmsnorm(h, model.output_norm.array(), c.rms_eps)", "return h"),
    # dequantisation slips seen in hand-written GGUF readers
    "Q4_0: nibbles as consecutive values": (
        "q = np.concatenate([low, high], axis=1).astype(np.float64) - 8.0",
        "q = np.stack([low, high], axis=2).reshape(n_blocks, 32).astype(np.float64) - 8.0"),
    "Q4_K: groups 4-7 take their top scale bits from scales[g]": (
        "sc[:, g] = (sb[:, g + 4] & 15) | ((sb[:, g - 4] >> 6) << 4)",
        "sc[:, g] = (sb[:, g + 4] & 15) | ((sb[:, g] >> 6) << 4)"),
    "Q4_K: the min added instead of subtracted": (
        "values = d * sc[:, :, None] * q - dmin * mn[:, :, None]",
        "values = d * sc[:, :, None] * q + dmin * mn[:, :, None]"),
    "Q6_K: scales read as unsigned": (
        'scale = np.repeat(blocks["scales"].astype(np.float64), 16, axis=1)',
        'scale = np.repeat(blocks["scales"].view(np.uint8).astype(np.float64), 16, axis=1)'),
    "Q6_K: high bits of the second and third quarters swapped": (
        "q[:, base + 32:base + 64] = low_b | ((qh >> 2) & 3) << 4\n"
        "        q[:, base + 64:base + 96] = high_a | ((qh >> 4) & 3) << 4",
        "q[:, base + 32:base + 64] = low_b | ((qh >> 4) & 3) << 4\n"
        "        q[:, base + 64:base + 96] = high_a | ((qh >> 2) & 3) << 4"),
}


def mutant(source, old, new):
    if source.count(old) != 1:
        raise RuntimeError("mutant no longer matches qwen3_ref.py: %r" % old[:60])
    module = type(sys)("qwen3_ref_mutant")
    exec(compile(source.replace(old, new), "qwen3_ref_mutant", "exec"), module.__dict__)
    return module


def main(argv):
    engine, names = common.args_qrank_models(argv)
    with open(SOURCE, encoding="utf-8") as f:
        source = f.read()
    worst = {}
    for name in names:
        path = engine.model_path(name)
        prompts = common.RerankPrompts(engine, path, common.QUERY, common.DOCS)
        model = qwen3_ref.Model(path)
        base = np.array([qwen3_ref.rerank_score(model, ids) for ids in prompts.prompts])
        moved = {}
        for label, (old, new) in MUTANTS.items():
            mod = mutant(source, old, new)
            m = mod.Model(path)
            moved[label] = float(np.abs(np.array([mod.rerank_score(m, ids) for ids in prompts.prompts]) - base).max())
        # The engine's split: shared tokens up to "<Document>:", then " " + document.
        # Splitting after the space instead changes the ids; so must the scores.
        head = engine.tokenize(path, [common.rerank_body(common.QUERY, "", None)])[0]
        split = engine.tokenize(path, common.DOCS)
        moved["document tokenized after the space"] = float(np.abs(np.array(
            [qwen3_ref.rerank_score(model, prompts.prefix + head + ids + common.SUFFIX_IDS) for ids in split])
            - base).max())
        for label, v in moved.items():
            worst[label] = max(worst.get(label, 0.0), v)
        print("%s: %s" % (name, "; ".join("%s %.1e" % (k, v) for k, v in moved.items())))
    ok = True
    for label, v in worst.items():
        good = v > THRESHOLD
        ok &= good
        print("%-44s moves a score by up to %.2e  %s" % (label, v, "caught" if good else "FAIL: not caught"))
    print("PASS" if ok else "FAIL")
    return 0 if ok else 1


if __name__ == "__main__":
    sys.exit(main(sys.argv))
