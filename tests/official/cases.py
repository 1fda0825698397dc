"""cases.py - what the official-code golden file holds, shared by its maker and its checker.

The texts are the kind qrank is for (Weibo posts, tweets, comment threads; Chinese, English,
mixed) plus the tokenizer's hard corners. None holds a special-token string such as
`<|im_end|>`: the official code lets the tokenizer parse those inside user text, and qrank
deliberately does not (MODEL.md, "Known pitfalls"), so there the two differ on purpose.
"""
import os
import sys

HERE = os.path.dirname(os.path.abspath(__file__))
sys.path.insert(0, os.path.join(HERE, "..", "reference"))
import common  # noqa: E402

# Reranker models: the reference suite's Hugging Face directories, one per shape A, B, C (head_dim
# not hidden/heads; four query heads per KV head; RoPE base and eps not Qwen3's).
RERANK_MODELS = ["A-hf-bf16", "B-hf-bf16", "C-hf-bf16"]
EMBED_MODEL = "E-hf-bf16"

POSTS = [
    "杭州亚运会闭幕式的烟花秀太震撼了！现场看哭了😭 #杭州亚运会#",
    "Closing ceremony fireworks in Hangzhou tonight were unreal 🎆🎆 #AsianGames",
    "@小王同学 明天早上8:30地铁2号线见，别迟到哈",
    "转发微博 //@新闻速递: 【突发】台风“梅花”今晚登陆，沿海地区请注意防范。",
    "lol this thread is gold 😂😂 https://t.co/AbC123xyz",
    "今天的咖啡☕️有点苦，but the view from the 32F office is 🔥",
    "閉幕式の花火、本当にきれいでした。また行きたい！",
    "烟花秀用了多少无人机？听说有上千架 drones，技术太强了",
    "RT @techcrunch: Alibaba Cloud unveils Qwen3 models — 0.6B to 235B params",
    "   leading spaces and trailing  ",
    "1234567890 + 3.14159 = ？？？  ＡＢＣ１２３（全角）",
    "C'est la vie: naïve café, Ünïcödé façade — ça va?",
]
QUERY_ZH = "杭州亚运会闭幕式烟花秀"
INSTRUCTION_ZH = "Given a Weibo post, judge whether it is about the query's event"

LONG_POST = ("A long thread about the Asian Games: " + "the fireworks, the drones, the crowd, "
             "and the music; " * 12 + "杭州亚运会闭幕式烟花秀令人难忘。" * 6)

RERANK_CASES = [
    # name, query, instruction (None: the default), documents, max_length
    ("capital-default", common.QUERY, None,
     [d for d in common.DOCS if "<|" not in d], 8192),
    ("weibo-instruction", QUERY_ZH, INSTRUCTION_ZH, POSTS, 8192),
    # budget 100 - 39 - 9 = 52 body tokens: the long post and the first (54) are cut, the rest not
    ("truncated-100", QUERY_ZH, None, [LONG_POST, POSTS[0], "短", POSTS[4], POSTS[6]], 100),
]

EMBED_TASK = "Identify the topic or theme of the given social media posts"
EMBED_CASES = [
    # name, instruction (None: plain documents), texts
    ("posts", None, POSTS[:8]),
    ("queries", EMBED_TASK, [QUERY_ZH, "What is the capital of China?", "gravity"]),
]
EMBED_DIMS = 32

# The tokenizer's corners, beyond the texts above: NFC (a decomposed é, Hangul jamo), the
# contractions the pre-tokenizer splits case-insensitively, digits one by one, runs of spaces
# and newlines, CRLF, tabs, a ZWJ family, flags, skin tones, CJK extension B, Arabic,
# combining marks, a lone surrogate-free astral symbol, and very long words.
TOKEN_EXTRA = [
    "cafe\u0301 and caf\u00e9", "\u1100\u1161\u11a8 한국어", "I'M SURE you'LL see it's THEIR'S",
    "don't won't shan't y'all", "12345678901234567890", "a  b   c    d\n\n\ne\r\nf\tg",
    "\n\n\n", "   ", "👩‍👩‍👧‍👦 🇨🇳🇺🇸 👍🏽", "𠀀𠀁 𪚥", "مرحبا بالعالم", "Z\u0351\u0368a\u0364l\u036cgo",
    "supercalifragilisticexpialidocious" * 4, "ｗｗｗ。ｅｘａｍｐｌｅ。ｃｏｍ", "#话题# 【标题】「引号」《书名》",
    "email: a.b-c_d@example.co.uk, price $12.50 (~¥90)", "x" * 300,
]


def token_texts():
    texts = list(TOKEN_EXTRA)
    for _, query, instruction, docs, _ in RERANK_CASES:
        texts += [query] + docs + [common.rerank_body(query, d, instruction) for d in docs]
    for _, instruction, texts_ in EMBED_CASES:
        texts += texts_
    return list(dict.fromkeys(texts))


def embed_inputs(instruction, texts):
    """The strings the embedder reads before <|endoftext|> (MODEL.md, "Embedder")."""
    if instruction is None:
        return list(texts)
    return ["Instruct: %s\nQuery:%s" % (instruction, t) for t in texts]
