// gen_golden.mjs - writes the tokenizer test's inputs and expected ids.
//
//   cd tests/tokenizer && npm ci && node gen_golden.mjs
//
// Outputs (committed, so the C test never needs node):
//   corpus.jsonl        one JSON string per line: the texts, built here from
//                       handwritten seeds plus seeded random combinations
//                       (deterministic: the same files on every run)
//   golden.jsonl        {"text": ..., "ids": [...]} for every corpus line
//   golden_bytes.jsonl  {"hex": ..., "ids": [...]}: byte strings with invalid
//                       UTF-8 and NUL bytes. Their text is what WHATWG's
//                       TextDecoder makes of them (one U+FFFD per maximal
//                       ill-formed subpart, a leading BOM kept), the rule
//                       src/utf8_repair.c implements.
//
// The reference is npm @huggingface/tokenizers (the official JavaScript port
// of HF tokenizers) loading data/qwen3/tokenizer.json and
// tokenizer_config.json. qrank tokenizes user text as plain text: "<|im_end|>"
// in a document is 7 ordinary tokens, never the special id. So the reference
// is given a copy of tokenizer.json whose added_tokens list is emptied (the
// model's vocab and merges unchanged), and strings containing "<|im_end|>",
// "<think>" etc. get plain-text ids in the golden file.
//
// Unicode versions: random characters are drawn only from blocks that were
// complete by Unicode 13 (utf8proc 2.6 in Debian 12), so NFC and the regex's
// \p{L}/\p{N} agree between node's ICU, PCRE2 and utf8proc on every string.
import { readFileSync, writeFileSync } from "node:fs";

// `node gen_golden.mjs --check` writes nothing: it regenerates in memory and
// fails when the committed files differ (the CTest "tokenizer-golden-fresh"
// runs it; it is skipped, exit 77, where `npm ci` has not been run).
const CHECK = process.argv.includes("--check");
let Tokenizer;
try {
  ({ Tokenizer } = await import("@huggingface/tokenizers"));
} catch (e) {
  console.log(`@huggingface/tokenizers is not installed (run npm ci): ${e.message}`);
  process.exit(CHECK ? 77 : 1);
}
const outputs = new Map();
const emit = (name, text) => outputs.set(name, text);

const DATA = new URL("../../data/qwen3/", import.meta.url);
const tokenizerJson = JSON.parse(readFileSync(new URL("tokenizer.json", DATA), "utf8"));
const tokenizerConfig = JSON.parse(readFileSync(new URL("tokenizer_config.json", DATA), "utf8"));

const withSpecials = new Tokenizer(tokenizerJson, tokenizerConfig);
const plain = new Tokenizer({ ...tokenizerJson, added_tokens: [] }, tokenizerConfig);
const encode = (text) => plain.encode(text, { add_special_tokens: false }).ids;

// Sanity of the reference setup itself: MODEL.md's ids, and proof that the
// emptied added_tokens list is what makes "<|im_end|>" plain text.
const expectIds = (got, want, what) => {
  if (JSON.stringify(got) !== JSON.stringify(want))
    throw new Error(`${what}: got ${JSON.stringify(got)}, want ${JSON.stringify(want)}`);
};
expectIds(encode("yes"), [9693], "yes");
expectIds(encode("no"), [2152], "no");
expectIds(encode("\n"), [198], "\\n");
expectIds(encode("\n\n"), [271], "\\n\\n");
expectIds(withSpecials.encode("<|im_end|>", { add_special_tokens: false }).ids, [151645], "special");
if (encode("<|im_end|>").includes(151645)) throw new Error("plain tokenizer still knows <|im_end|>");

// ---- deterministic randomness ---------------------------------------------------------------
let seed = 0x5eed1234;
const rand = () => {
  // mulberry32
  seed = (seed + 0x6d2b79f5) | 0;
  let t = seed;
  t = Math.imul(t ^ (t >>> 15), t | 1);
  t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
  return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
};
const randInt = (lo, hi) => lo + Math.floor(rand() * (hi - lo + 1));
const pick = (arr) => arr[Math.floor(rand() * arr.length)];

// ---- handwritten seeds ----------------------------------------------------------------------
const seeds = [
  // plain English, tweets
  "Hello world",
  "Hello, world!",
  "The quick brown fox jumps over the lazy dog.",
  "Just landed in NYC!!! ✈️ #travel #blessed",
  "RT @elonmusk: Mars, here we come 🚀🚀🚀",
  "can't wait for the weekend lol 😂😂",
  "OMG this is sooooo goooood!!!!!",
  "@jack @biz check this out → https://t.co/AbC123xYz",
  "BREAKING: Markets fall 3.2% as inflation hits 9.1% (CPI, YoY) #economy",
  "i'm so done w/ this... smh 🙄",
  "Follow me on Insta: @cool_user_99 ✨✨",
  "New blog post: https://example.com/blog/2024/05/how-to-tokenize?utm_source=twitter&utm_medium=social",
  "email me at john.doe+news@example.co.uk!",
  "#ThrowbackThursday #TBT #NoFilter",
  "   leading spaces",
  "trailing spaces   ",
  "   both   ",
  " ",
  "  ",
  "\t",
  "\n",
  "\n\n",
  "\r\n",
  "\r",
  "a\rb",
  "line1\r\nline2\r\nline3",
  "line1\rline2\rline3",
  "tabs\tbetween\twords\t\t\tand more",
  "mixed \t \n \r\n whitespace \u00a0 runs \u3000 here",
  "ends with newline\n",
  "ends with spaces and newline   \n",
  "     \n     \n",
  "word\n\n\n\nword",
  "x  \n  y",
  "  \r\n  ",
  "\n \n \n",
  "\u00a0\u00a0nbsp\u00a0",
  "\u2028line separator\u2029paragraph separator",
  "NEL\u0085next",
  "mongolian\u180evowel separator",
  "zero\u200bwidth\u200cjoiners\u200d",
  "\ufeffBOM at start",
  "vertical\u000btab and form\u000cfeed",
  // contractions
  "I'm", "I'M", "you're", "YOU'RE", "You'Re", "we've", "WE'VE", "he'll", "HE'LL", "she'd", "SHE'D",
  "it's", "IT'S", "don't", "DON'T", "Don'T", "'s", "'S", "'t", "'T", "'re", "'Re", "'rE", "'ve",
  "'VE", "'m", "'M", "'ll", "'LL", "'lL", "'d", "'D", "x'sy", "x'Sy", "'sss", "''s", "'s'", "' s",
  "rock'n'roll", "o'clock", "the dog's bone", "the DOGS' bones", "y'all'd've",
  "'ſ", "'ſx", "long ſ in Fraktur: Waſſer",
  "I’m using a curly apostrophe", "it’s", "l'été dernier", "c'est la vie", "dell'anno",
  // Chinese, Weibo-style
  "今天天气真好，出去玩了一圈～",
  "#周末去哪儿# 推荐几个北京好玩的地方！！",
  "【重磅】国务院发布最新通知，明年起实施。",
  "哈哈哈哈哈哈哈哈哈哈哈哈哈",
  "我觉得这部电影还不错，就是结尾有点仓促。。。",
  "转发微博 //@小明同学: 说得太对了！",
  "回复 @张三：谢谢支持❤️",
  "震惊！这个方法让你一周瘦10斤？？？",
  "北京时间2024年3月15日19:30，比赛正式开始。",
  "人工智能（AI）正在改变我们的生活方式。",
  "「你好」『世界』《三体》〈序〉",
  "价格：￥１２８．００元，限时优惠！",
  "全角标点：，。！？；：（）【】",
  "中英混合 mixed text 中文English混排123",
  "我在用ChatGPT写代码，效率提升了50%",
  "第一名：张伟；第二名：李娜；第三名：王芳。",
  "网友：这也太离谱了吧😂😂😂",
  "#原神# 新角色太强了 @米哈游",
  // Japanese, Korean, other scripts
  "今日はいい天気ですね。散歩に行きましょう！",
  "東京スカイツリーに行ってきた🗼 #東京",
  "ｶﾀｶﾅ ﾊﾝｶｸ ﾃｽﾄ",
  "안녕하세요! 오늘 날씨가 정말 좋네요 ☀️",
  "대한민국 서울특별시 강남구",
  "مرحبا بالعالم! كيف حالك اليوم؟",
  "السلام عليكم ورحمة الله وبركاته ٣٤٥٦",
  "नमस्ते दुनिया! आप कैसे हैं?",
  "हिन्दी में लिखा गया वाक्य।",
  "สวัสดีครับ ยินดีต้อนรับ",
  "ภาษาไทยไม่มีการเว้นวรรคระหว่างคำ",
  "Привет, мир! Как дела?",
  "Γειά σου Κόσμε! Ελληνικά.",
  "שלום עולם! מה שלומך?",
  "Xin chào thế giới! Tiếng Việt có dấu.",
  "Français : été, garçon, naïve, cœur, Œuvre",
  "Deutsch: Größe, Straße, Übermaß, ÄÖÜ äöü ß",
  "Español: ¿Qué tal? ¡Muy bien! año, niño",
  "Türkçe: İstanbul, ılık, ĞÜŞÇÖ",
  "Polski: zażółć gęślą jaźń",
  "Ελληνικά με τόνους: ά έ ή ί ό ύ ώ",
  // emoji, ZWJ, flags, keycaps, skin tones
  "😀😃😄😁😆😅😂🤣",
  "👍🏻👍🏼👍🏽👍🏾👍🏿",
  "👨‍👩‍👧‍👦 family",
  "👩🏽‍💻 coding, 🧑🏿‍🚀 astronaut",
  "🏳️‍🌈 🏳️‍⚧️ 🏴‍☠️",
  "🇨🇳🇺🇸🇯🇵🇰🇷🇩🇪🇫🇷",
  "🇺🇸 USA 🇬🇧 UK",
  "🏴󠁧󠁢󠁳󠁣󠁴󠁿 Scotland",
  "1️⃣ 2️⃣ #️⃣ *️⃣",
  "❤️❤️❤️ ♥ ❤ 💔",
  "✌🏾✌️✌",
  "I ❤️ NY",
  "🙏🙏🙏🙏🙏🙏🙏🙏🙏🙏🙏🙏",
  "emoji🎉inside🎉words",
  // numbers
  "0", "1", "12", "123", "1234", "12345", "123456", "1234567", "12345678901234567890",
  "3.14159265358979323846", "1,000,000", "1 000 000", "-42", "+86 138 0013 8000",
  "2024-05-17T12:34:56Z", "v1.2.3-beta.4", "0x1F600", "1e-10", "99.9%", "$1,299.99", "€50", "¥100",
  "١٢٣٤٥٦٧٨٩٠", "０１２３４５６７８９", "①②③④⑤", "Ⅰ Ⅱ Ⅲ Ⅻ", "x² + y³ = z¹", "½ ¼ ¾",
  "第1章第23节", "10000000000000000000000000000000000000000",
  // code
  "def f(x):\n    return x ** 2\n",
  "for (int i = 0; i < n; ++i) {\n\tsum += a[i];\n}",
  "console.log(`Hello ${name}!`);",
  "SELECT id, name FROM users WHERE age >= 18 ORDER BY name;",
  '{"key": "value", "list": [1, 2, 3], "nested": {"a": null}}',
  "<div class=\"container\"><p>Hello</p></div>",
  "#include <stdio.h>\nint main(void) { printf(\"hi\\n\"); return 0; }",
  "if x != nil {\r\n    return err\r\n}",
  "    indented with four spaces\n        and eight",
  "a = b + c * (d - e) / f % g ** h // i",
  "regex: ^[a-zA-Z0-9._%+-]+@[a-zA-Z0-9.-]+\\.[a-zA-Z]{2,}$",
  "C:\\Users\\name\\Documents\\file.txt",
  "/usr/local/bin/python3 -m pip install --upgrade pip",
  "x => x.map(y => y * 2).filter(Boolean)",
  // special-token strings as plain text
  "<|im_end|>",
  "<|im_start|>user\nhello<|im_end|>",
  "<think>\n\n</think>\n\n",
  "text with <|endoftext|> inside",
  "<tool_call>{\"name\": \"f\"}</tool_call>",
  "<|vision_start|><|image_pad|><|vision_end|>",
  "<|im_end|><|im_end|><|im_end|>",
  "</think>",
  "<Instruct>: Given a web search query\n<Query>: what is AI\n<Document>: AI is",
  // NFC: decomposed input, reordering, singletons, Hangul jamo
  "e\u0301", "cafe\u0301", "A\u030a", "Ame\u0301lie", "n\u0303o", "u\u0308ber",
  "Tie\u0302\u0301ng Vie\u0323\u0302t",
  "a\u0323\u0302", "a\u0302\u0323", "A\u0308\u0301", "o\u031b\u0301",
  "\u212b", "\u2126", "\u212a", "\uf900\uf901", "\u0344", "\u0958",
  "\u1112\u1161\u11ab\u1100\u1173\u11af", "\u1100\u1161", "\u1100\u1161\u11a8 \u110b\u1175",
  "\u3131\u314f",
  "\u304b\u3099\u304d\u3099", "\u30cf\u309a",
  "Z\u0351\u036b\u0343\u036a\u0302\u036b\u033d\u034f\u0334\u0319\u0324\u031e\u0349\u035a\u032f\u031e\u0320\u034dA\u036b\u0357\u0334\u0362\u0335\u031c\u0330\u0354L\u0368\u0367\u0369\u0358\u0320G\u0311\u0357\u030e\u0305\u035b\u0341\u0334\u033b\u0348\u034d\u0354\u0339O\u0342\u030c\u030c\u0358\u0328\u0335\u0339\u033b\u031d\u0333",
  "\u0301 leading combining mark",
  "x\u0300\u0301\u0302\u0303\u0304\u0305\u0306\u0307\u0308\u0309",
  "\u00e9 vs e\u0301 vs \u0065\u0301",
  // misc symbols and punctuation
  "…", "——", "—", "–", "...", "?!", "!!!", "???", "~~~", "***", "###", "@@@", "$$$",
  "«quotes» „German“ ‘single’ “double”",
  "→ ← ↑ ↓ ⇒ ⇔ ∀ ∃ ∈ ∉ ∑ ∏ √ ∞ ≈ ≠ ≤ ≥",
  "© ® ™ § ¶ † ‡ • ° ± × ÷",
  "\u0000", "a\u0000b", "\u0000\u0000\u0000", "nul\u0000 in the middle\u0000",
  "\u0001\u0002\u001f\u007f",
  "\\", "\\\\", "/", "//", "''", "\"\"", "``", "'", "\"",
  "a", "A", "z", "é", "中", "😀", "ก",
];

// ---- fragment pools for random combinations -------------------------------------------------
const pools = {
  en: ["the", "The", "quick", "brown", "fox", "jumps", "over", "lazy", "dog", "Hello", "world",
    "tokenizer", "Qwen", "reranker", "embedding", "lol", "omg", "gonna", "wanna", "tbh", "I'm",
    "you're", "they've", "WE'LL", "it'd", "isn't", "New York", "San Francisco", "COVID-19",
    "iPhone", "e-mail", "state-of-the-art", "re-tweet", "U.S.A.", "Dr.", "Mr.", "etc."],
  zh: ["今天", "天气", "真好", "我们", "一起", "去", "吃饭", "吧", "哈哈", "微博", "热搜", "转发",
    "评论", "点赞", "北京", "上海", "深圳", "人工智能", "大模型", "的", "了", "是", "不是", "真的",
    "太", "好看", "了！", "～", "。。。", "？？", "！！"],
  ja: ["こんにちは", "ありがとう", "東京", "ラーメン", "カタカナ", "ひらがな", "です", "ます"],
  ko: ["안녕", "하세요", "감사합니다", "서울", "한국어", "좋아요"],
  other: ["مرحبا", "العالم", "नमस्ते", "भारत", "สวัสดี", "ประเทศไทย", "Привет", "мир", "Γειά",
    "שלום", "Việt Nam", "naïve", "façade", "Ærø", "Øresund", "İzmir", "ẞ"],
  emoji: ["😀", "😂", "🤣", "❤️", "👍", "👍🏽", "🙏", "🎉", "🔥", "✨", "💯", "🚀", "👨‍👩‍👧",
    "👩‍❤️‍💋‍👨", "🏳️‍🌈", "🇨🇳", "🇺🇸", "🇯🇵", "☀️", "⭐", "1️⃣", "🧑🏻‍🤝‍🧑🏿", "😶‍🌫️"],
  punct: [",", ".", "!", "?", "...", "…", "，", "。", "！", "？", "、", "：", "；", "（", "）",
    "【", "】", "「", "」", "-", "—", "(", ")", "[", "]", "{", "}", "<", ">", "\"", "'", "`",
    "~", "@", "#", "$", "%", "^", "&", "*", "_", "+", "=", "|", "\\", "/", ":", ";"],
  ws: [" ", " ", " ", "  ", "   ", "\t", "\n", "\n\n", "\r\n", "\r", " \n", "\n ", "\u00a0",
    "\u3000", "\u2009", "\u0085", "\u2028"],
  contraction: ["'s", "'S", "'t", "'T", "'re", "'RE", "'ve", "'Ve", "'m", "'M", "'ll", "'Ll",
    "'d", "'D"],
  special: ["<|im_end|>", "<|im_start|>", "<think>", "</think>", "<|endoftext|>", "<tool_call>"],
  tag: ["#AI", "#人工智能", "#周末#", "@user", "@小明", "@jane_doe99", "https://t.co/x1Y2z3",
    "http://example.com/a?b=c&d=e", "www.baidu.com", "user@mail.com"],
  nfc: ["e\u0301", "a\u0308", "o\u0302\u0301", "\u1100\u1161\u11a8", "\u212b", "n\u0303",
    "u\u031b\u0309", "\u0915\u093c", "\u304b\u3099"],
};
const numberFragment = () => {
  const len = randInt(1, 30);
  let s = String(randInt(1, 9));
  for (let i = 1; i < len; i++) s += String(randInt(0, 9));
  const r = rand();
  if (r < 0.15) s = s.slice(0, Math.max(1, len - 3)) + "." + s.slice(Math.max(1, len - 3));
  else if (r < 0.25) s = "-" + s;
  else if (r < 0.35) s = Number(s.slice(0, 12)).toLocaleString("en-US");
  return s;
};
const poolNames = Object.keys(pools);
const fragment = () => {
  const r = rand();
  if (r < 0.08) return numberFragment();
  return pick(pools[pick(poolNames)]);
};
const separator = () => {
  const r = rand();
  if (r < 0.45) return " ";
  if (r < 0.7) return "";
  return pick(pools.ws);
};
const combination = (nFragments) => {
  let s = "";
  for (let i = 0; i < nFragments; i++) s += (i ? separator() : "") + fragment();
  if (rand() < 0.1) s = pick(pools.ws) + s;
  if (rand() < 0.1) s += pick(pools.ws);
  return s;
};

// Random characters from blocks that were complete by Unicode 13.
const ranges = [
  [0x00, 0x1f], [0x20, 0x7e], [0x20, 0x7e], [0x20, 0x7e], [0xa0, 0x24f], [0x300, 0x36f],
  [0x370, 0x3ff], [0x400, 0x4ff], [0x590, 0x5ff], [0x600, 0x6ff], [0x900, 0x97f], [0xe00, 0xe7f],
  [0x1100, 0x11ff], [0x1e00, 0x1eff], [0x2000, 0x206f], [0x2100, 0x214f], [0x2190, 0x21ff],
  [0x2460, 0x24ff], [0x3000, 0x303f], [0x3040, 0x30ff], [0x4e00, 0x9fa5], [0x4e00, 0x9fa5],
  [0xac00, 0xd7a3], [0xff00, 0xffef], [0x1f300, 0x1f5ff], [0x1f600, 0x1f64f],
];
const randomChars = (n) => {
  let s = "";
  for (let i = 0; i < n; i++) {
    const [lo, hi] = pick(ranges);
    s += String.fromCodePoint(randInt(lo, hi));
  }
  return s;
};

// ---- the corpus -------------------------------------------------------------------------------
const corpus = [...seeds];
for (let i = 0; i < 700; i++) corpus.push(combination(randInt(1, 14)));
for (let i = 0; i < 220; i++) corpus.push(randomChars(randInt(1, 40)));
for (let i = 0; i < 40; i++) {
  // contractions and special-token strings glued to their neighbours
  corpus.push(fragment() + pick(pools.contraction) + (rand() < 0.5 ? fragment() : ""));
  corpus.push(fragment() + pick(pools.special) + fragment());
}
for (let i = 0; i < 60; i++) corpus.push(numberFragment() + separator() + numberFragment());
// long texts: several KB each
for (let i = 0; i < 12; i++) {
  const target = randInt(2000, 8000);
  let s = "";
  while (s.length < target) s += combination(randInt(5, 30)) + pick(["\n", "\n\n", " ", "\r\n"]);
  corpus.push(s);
}
corpus.push("a".repeat(5000));
corpus.push("ab".repeat(2500));
corpus.push("9".repeat(3000));
corpus.push(" ".repeat(2000) + "word");
corpus.push("\n".repeat(1000));
corpus.push(" \n".repeat(500));
corpus.push("哈".repeat(2000));
corpus.push("😂".repeat(1000));
corpus.push("!".repeat(2000));
corpus.push("https://example.com/" + "path/".repeat(400) + "?q=" + "x".repeat(500));
corpus.push(randomChars(3000));

if (new Set(corpus).size !== corpus.length) {
  // duplicates waste test time; keep the first of each
  const seen = new Set();
  for (let i = 0; i < corpus.length; i++) {
    if (seen.has(corpus[i])) corpus.splice(i--, 1);
    else seen.add(corpus[i]);
  }
}

const goldenLines = [];
for (const text of corpus) {
  const ids = encode(text);
  // The ids must spell the text back (after NFC): a broken setup shows here.
  if (plain.decode(ids) !== text.normalize("NFC")) throw new Error(`round trip failed: ${JSON.stringify(text)}`);
  goldenLines.push(JSON.stringify({ text, ids }));
}
emit("corpus.jsonl", corpus.map((t) => JSON.stringify(t)).join("\n") + "\n");
emit("golden.jsonl", goldenLines.join("\n") + "\n");

// ---- byte strings: invalid UTF-8 and NUL ------------------------------------------------------
const utf8 = new TextEncoder();
const decoder = new TextDecoder("utf-8", { fatal: false, ignoreBOM: true });
const badPieces = [
  [0x80], [0xbf], [0xc0], [0xc1], [0xc0, 0xaf], [0xc2], [0xdf], [0xe0], [0xe0, 0x80], [0xe0, 0x9f, 0x80],
  [0xe0, 0xa0], [0xe1, 0x80], [0xed, 0xa0, 0x80], [0xed, 0xbf, 0xbf], [0xed, 0x9f, 0xbf], [0xef, 0xbf],
  [0xf0], [0xf0, 0x8f, 0xbf, 0xbf], [0xf0, 0x90], [0xf0, 0x90, 0x80], [0xf4, 0x8f, 0xbf],
  [0xf4, 0x90, 0x80, 0x80], [0xf5], [0xf8, 0x88, 0x80, 0x80, 0x80], [0xfe], [0xff], [0xfe, 0xff],
  [0x00], [0x00, 0x00], [0xef, 0xbb, 0xbf], [0xc3, 0x28], [0xe2, 0x28, 0xa1], [0xf0, 0x28, 0x8c, 0x28],
];
const hex = (bytes) => Array.from(bytes, (b) => b.toString(16).padStart(2, "0")).join("");
const byteCases = [
  // Unicode's own examples (chapter 3, U+FFFD substitution tables)
  [0x61, 0xf1, 0x80, 0x80, 0xe1, 0x80, 0xc2, 0x62, 0x80, 0x63, 0x80, 0xbf, 0x64],
  [0xc0, 0xaf, 0xe0, 0x80, 0xbf, 0xf0, 0x81, 0x82, 0x41],
  [0xed, 0xa0, 0x80, 0xed, 0xbf, 0xbf, 0xed, 0xaf, 0x41],
  [0xf4, 0x91, 0x92, 0x93, 0xff, 0x41, 0x80, 0xbf, 0x42],
  [0xe1, 0x80, 0xe2, 0xf0, 0x91, 0x92, 0xf1, 0xbf, 0x41],
  ...badPieces,
];
for (let i = 0; i < 200; i++) {
  const parts = [];
  const n = randInt(1, 8);
  for (let k = 0; k < n; k++) {
    const r = rand();
    if (r < 0.4) parts.push(...utf8.encode(combination(randInt(1, 3))));
    else if (r < 0.7) parts.push(...pick(badPieces));
    else if (r < 0.85) parts.push(randInt(0x80, 0xff));
    else {
      // a valid multi-byte character cut short
      const bytes = utf8.encode(pick(["中", "é", "😀", "ก", "€", "👍🏽"]));
      parts.push(...bytes.slice(0, randInt(1, bytes.length - 1)));
    }
  }
  byteCases.push(parts);
}
const byteLines = byteCases.map((bytes) => {
  const text = decoder.decode(new Uint8Array(bytes));
  return JSON.stringify({ hex: hex(bytes), ids: encode(text) });
});
emit("golden_bytes.jsonl", byteLines.join("\n") + "\n");

let stale = 0;
for (const [name, text] of outputs) {
  const url = new URL(name, import.meta.url);
  if (!CHECK) {
    writeFileSync(url, text);
    continue;
  }
  let committed = "";
  try {
    committed = readFileSync(url, "utf8");
  } catch {}
  if (committed !== text) {
    console.log(`${name} differs from what the reference tokenizer gives now`);
    stale++;
  }
}
console.log(`corpus: ${corpus.length} texts, ${byteCases.length} byte strings${CHECK ? (stale ? ", STALE" : ", up to date") : ""}`);
process.exit(stale ? 1 : 0);
