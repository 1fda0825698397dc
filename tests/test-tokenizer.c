/* test-tokenizer.c - qrank's tokenizer against the reference tokenizer's ids.
 *
 * The golden files in tests/tokenizer/ were written by npm
 * @huggingface/tokenizers (gen_golden.mjs; see its header for why added
 * tokens are plain text there). This test needs no node: it loads
 * data/qwen3/tokenizer.json and checks
 *   - every golden text and byte string, through qr_tokenizer_from_json and
 *     through qr_tokenizer_create fed a GGUF-like spec derived here;
 *   - MODEL.md's ids, special-token lookups, the reranker prefix/suffix;
 *   - invalid UTF-8 = its U+FFFD-replaced text, NUL bytes, two threads;
 *   - BPE on long single words against a naive quadratic BPE (the slow twin),
 *     and 100 KB inputs in bounded time;
 *   - merge order, ties and validation on small synthetic vocabularies;
 *   - the regex translation and tokenizer.json's refusals.
 * Run: test-tokenizer SOURCE_DIR BUILD_DIR. */
#include <cjson/cJSON.h>
#include <pthread.h>
#include <stdarg.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include <utf8proc.h>

#include "nfc.h"
#include "tokenizer.h"
#include "tokenizer_regex.h"
#include "utf8_repair.h"

#include "check.h"

static double now(void) {
    struct timespec t;
    clock_gettime(CLOCK_MONOTONIC, &t);
    return (double)t.tv_sec + (double)t.tv_nsec * 1e-9;
}

static char *read_all(const char *path, size_t *len) {
    FILE *f = fopen(path, "rb");
    if (!f)
        return NULL;
    size_t cap = 1 << 20, n = 0;
    char *buf = malloc(cap + 1);
    for (;;) {
        if (n == cap) {
            cap *= 2;
            buf = realloc(buf, cap + 1);
        }
        size_t got = fread(buf + n, 1, cap - n, f);
        if (got == 0)
            break;
        n += got;
    }
    fclose(f);
    buf[n] = '\0';
    *len = n;
    return buf;
}

/* ---- ids ------------------------------------------------------------------------------------ */

typedef struct ids {
    int32_t *v;
    size_t n, cap;
} ids;

static void ids_push(ids *a, int32_t x) {
    if (a->n == a->cap) {
        a->cap = a->cap ? a->cap * 2 : 16;
        a->v = realloc(a->v, a->cap * sizeof *a->v);
    }
    a->v[a->n++] = x;
}

static int tokenize(const qr_tokenizer *tok, const char *s, size_t len, ids *out) {
    qrank_error err;
    out->n = 0;
    int rc = qr_tokenize(tok, s, len, &out->v, &out->n, &out->cap, &err);
    if (rc)
        fprintf(stderr, "qr_tokenize: %s\n", err.message);
    return rc;
}

static int same_ids(const ids *a, const ids *b) {
    return a->n == b->n && (a->n == 0 || memcmp(a->v, b->v, a->n * sizeof *a->v) == 0);
}

static void show_diff(const qr_tokenizer *tok, const char *what, const ids *got, const ids *want) {
    size_t i = 0;
    while (i < got->n && i < want->n && got->v[i] == want->v[i])
        i++;
    fprintf(stderr, "  %s: %zu ids vs %zu expected; first difference at %zu:", what, got->n, want->n, i);
    for (size_t k = i; k < i + 4 && k < got->n; k++)
        fprintf(stderr, " got %d \"%s\"", got->v[k], qr_tokenizer_token(tok, got->v[k]));
    for (size_t k = i; k < i + 4 && k < want->n; k++)
        fprintf(stderr, " want %d \"%s\"", want->v[k], qr_tokenizer_token(tok, want->v[k]));
    fputc('\n', stderr);
}

/* ---- the golden files: one small JSON reader, because texts hold \u0000 ------------------- */

typedef struct golden {
    char **text;
    size_t *len;
    ids *want;
    size_t n;
} golden;

static void put_utf8(char *out, size_t *o, uint32_t cp) {
    if (cp < 0x80) {
        out[(*o)++] = (char)cp;
    } else if (cp < 0x800) {
        out[(*o)++] = (char)(0xC0 | (cp >> 6));
        out[(*o)++] = (char)(0x80 | (cp & 0x3F));
    } else if (cp < 0x10000) {
        out[(*o)++] = (char)(0xE0 | (cp >> 12));
        out[(*o)++] = (char)(0x80 | ((cp >> 6) & 0x3F));
        out[(*o)++] = (char)(0x80 | (cp & 0x3F));
    } else {
        out[(*o)++] = (char)(0xF0 | (cp >> 18));
        out[(*o)++] = (char)(0x80 | ((cp >> 12) & 0x3F));
        out[(*o)++] = (char)(0x80 | ((cp >> 6) & 0x3F));
        out[(*o)++] = (char)(0x80 | (cp & 0x3F));
    }
}

static uint32_t hex4(const char *p) {
    uint32_t v = 0;
    for (int i = 0; i < 4; i++) {
        char c = p[i];
        v = v * 16 + (uint32_t)(c <= '9' ? c - '0' : (c | 0x20) - 'a' + 10);
    }
    return v;
}

/* Decodes the JSON string starting at *p (the opening quote); returns a
 * malloc'd buffer and its length; *p ends after the closing quote. */
static char *json_string(const char **p, size_t *len) {
    const char *s = *p + 1;
    const char *end = s;
    while (*end && *end != '"')
        end += *end == '\\' ? 2 : 1;
    char *out = malloc((size_t)(end - s) + 4);
    size_t o = 0;
    while (s < end) {
        if (*s != '\\') {
            out[o++] = *s++;
            continue;
        }
        s++;
        char c = *s++;
        switch (c) {
        case 'n': out[o++] = '\n'; break;
        case 'r': out[o++] = '\r'; break;
        case 't': out[o++] = '\t'; break;
        case 'b': out[o++] = '\b'; break;
        case 'f': out[o++] = '\f'; break;
        case 'u': {
            uint32_t cp = hex4(s);
            s += 4;
            if (cp >= 0xD800 && cp < 0xDC00 && s[0] == '\\' && s[1] == 'u') {
                cp = 0x10000 + ((cp - 0xD800) << 10) + (hex4(s + 2) - 0xDC00);
                s += 6;
            }
            put_utf8(out, &o, cp);
            break;
        }
        default: out[o++] = c; break; /* \" \\ \/ */
        }
    }
    *p = end + 1;
    *len = o;
    return out;
}

/* Reads lines {"<key>": "...", "ids": [...]}; key "hex" gives bytes. */
static int load_golden(const char *path, const char *key, golden *g) {
    size_t flen;
    char *file = read_all(path, &flen);
    if (!file)
        return -1;
    memset(g, 0, sizeof *g);
    size_t cap = 0;
    char pattern[32];
    snprintf(pattern, sizeof pattern, "{\"%s\":", key);
    for (char *line = file; *line; ) {
        char *nl = strchr(line, '\n');
        if (nl)
            *nl = '\0';
        if (*line) {
            if (g->n == cap) {
                cap = cap ? cap * 2 : 256;
                g->text = realloc(g->text, cap * sizeof *g->text);
                g->len = realloc(g->len, cap * sizeof *g->len);
                g->want = realloc(g->want, cap * sizeof *g->want);
            }
            if (strncmp(line, pattern, strlen(pattern)) != 0) {
                free(file);
                return -1;
            }
            const char *p = line + strlen(pattern);
            size_t len;
            char *s = json_string(&p, &len);
            if (strcmp(key, "hex") == 0) {
                for (size_t i = 0; i < len / 2; i++) {
                    unsigned v;
                    sscanf(s + 2 * i, "%2x", &v);
                    s[i] = (char)v;
                }
                len /= 2;
            }
            g->text[g->n] = s;
            g->len[g->n] = len;
            ids *w = &g->want[g->n];
            memset(w, 0, sizeof *w);
            p = strstr(p, "\"ids\":[");
            if (!p) {
                free(file);
                return -1;
            }
            p += 7;
            while (*p && *p != ']') {
                char *e;
                long v = strtol(p, &e, 10);
                if (e == p)
                    break;
                ids_push(w, (int32_t)v);
                p = *e == ',' ? e + 1 : e;
            }
            g->n++;
        }
        if (!nl)
            break;
        line = nl + 1;
    }
    free(file);
    return 0;
}

static void free_golden(golden *g) {
    for (size_t i = 0; i < g->n; i++) {
        free(g->text[i]);
        free(g->want[i].v);
    }
    free(g->text);
    free(g->len);
    free(g->want);
}

static size_t check_golden(const qr_tokenizer *tok, const golden *g, const char *what) {
    ids got = {0};
    size_t bad = 0;
    for (size_t i = 0; i < g->n; i++) {
        if (tokenize(tok, g->text[i], g->len[i], &got) || !same_ids(&got, &g->want[i])) {
            if (bad++ < 5) {
                fprintf(stderr, "%s line %zu (%zu bytes) \"%.60s\"\n", what, i + 1, g->len[i], g->text[i]);
                show_diff(tok, "ids", &got, &g->want[i]);
            }
        }
    }
    free(got.v);
    return bad;
}

/* The prompt splits the engine relies on, over every golden text and byte
 * string: tokenizing head + tail in one piece gives the ids of head, then
 * those of tail. The reranker splits "...<Document>:" | " " + document
 * (rerank.c), the embedder "Instruct: ...\nQuery" | ":" + text (embed.c). */
static size_t check_splits(const qr_tokenizer *tok, const golden *g) {
    static const char *const heads[][2] = {
        {"<Instruct>: Given a web search query, retrieve relevant passages that answer the query\n"
         "<Query>: 杭州亚运会闭幕式烟花秀\n<Document>:", " "},
        {"Instruct: Identify the topic or theme of the given social media posts\nQuery", ":"},
        {"Instruct: 找出与问题相关的微博  \nQuery", ":"},
    };
    ids whole = {0}, head = {0}, tail = {0};
    size_t bad = 0;
    for (size_t h = 0; h < sizeof heads / sizeof heads[0]; h++) {
        const size_t hl = strlen(heads[h][0]), jl = strlen(heads[h][1]);
        if (tokenize(tok, heads[h][0], hl, &head)) return g->n;
        for (size_t i = 0; i < g->n; i++) {
            char *buf = malloc(hl + jl + g->len[i] + 1);
            if (!buf) return g->n;
            memcpy(buf, heads[h][0], hl);
            memcpy(buf + hl, heads[h][1], jl);
            memcpy(buf + hl + jl, g->text[i], g->len[i]);
            const int rc = tokenize(tok, buf, hl + jl + g->len[i], &whole) || tokenize(tok, buf + hl, jl + g->len[i], &tail);
            free(buf);
            const int same = !rc && whole.n == head.n + tail.n && memcmp(whole.v, head.v, head.n * sizeof *head.v) == 0 &&
                             (tail.n == 0 || memcmp(whole.v + head.n, tail.v, tail.n * sizeof *tail.v) == 0);
            if (!same && bad++ < 5)
                fprintf(stderr, "split %zu breaks on golden text %zu \"%.60s\"\n", h, i + 1, g->text[i]);
        }
    }
    free(whole.v);
    free(head.v);
    free(tail.v);
    return bad;
}

/* ---- a GGUF-like spec, derived from tokenizer.json the way a converter would --------------- */

typedef struct gguf_like {
    qr_str *tokens;
    int32_t *types;
    size_t n_tokens;
    qr_str *merges;
    size_t n_merges;
    char *arena;
    cJSON *root;
} gguf_like;

static int derive_gguf_like(const char *json, size_t len, gguf_like *g) {
    memset(g, 0, sizeof *g);
    g->root = cJSON_ParseWithLength(json, len);
    if (!g->root)
        return -1;
    cJSON *model = cJSON_GetObjectItem(g->root, "model");
    cJSON *vocab = cJSON_GetObjectItem(model, "vocab");
    cJSON *added = cJSON_GetObjectItem(g->root, "added_tokens");
    cJSON *merges = cJSON_GetObjectItem(model, "merges");
    g->n_tokens = (size_t)(cJSON_GetArraySize(vocab) + cJSON_GetArraySize(added));
    g->tokens = calloc(g->n_tokens, sizeof *g->tokens);
    g->types = calloc(g->n_tokens, sizeof *g->types);
    cJSON *it;
    cJSON_ArrayForEach(it, vocab) {
        size_t id = (size_t)it->valueint;
        if (id >= g->n_tokens)
            return -1;
        g->tokens[id] = (qr_str){it->string, strlen(it->string)};
        g->types[id] = 1;
    }
    cJSON_ArrayForEach(it, added) {
        size_t id = (size_t)cJSON_GetObjectItem(it, "id")->valueint;
        const char *content = cJSON_GetObjectItem(it, "content")->valuestring;
        if (id >= g->n_tokens)
            return -1;
        g->tokens[id] = (qr_str){content, strlen(content)};
        g->types[id] = cJSON_IsTrue(cJSON_GetObjectItem(it, "special")) ? 3 : 4;
    }
    g->n_merges = (size_t)cJSON_GetArraySize(merges);
    g->merges = calloc(g->n_merges, sizeof *g->merges);
    size_t total = 0;
    cJSON_ArrayForEach(it, merges) {
        total += strlen(cJSON_GetArrayItem(it, 0)->valuestring) +
                 strlen(cJSON_GetArrayItem(it, 1)->valuestring) + 1;
    }
    g->arena = malloc(total + 1);
    size_t off = 0, r = 0;
    cJSON_ArrayForEach(it, merges) {
        int k = snprintf(g->arena + off, total + 1 - off, "%s %s",
                         cJSON_GetArrayItem(it, 0)->valuestring, cJSON_GetArrayItem(it, 1)->valuestring);
        g->merges[r++] = (qr_str){g->arena + off, (size_t)k};
        off += (size_t)k;
    }
    return 0;
}

static void free_gguf_like(gguf_like *g) {
    free(g->tokens);
    free(g->types);
    free(g->merges);
    free(g->arena);
    cJSON_Delete(g->root);
}

/* ---- naive BPE: the slow twin --------------------------------------------------------------- */

typedef struct rank_entry {
    const char *pair; /* "a b" */
    size_t len;
    int rank;
} rank_entry;

static int cmp_rank_entry(const void *a, const void *b) {
    const rank_entry *x = a, *y = b;
    size_t n = x->len < y->len ? x->len : y->len;
    int c = memcmp(x->pair, y->pair, n);
    return c ? c : (x->len > y->len) - (x->len < y->len);
}

/* Repeatedly merges the leftmost pair of lowest rank, on strings. O(n^2). */
static void naive_bpe(const qr_tokenizer *tok, const rank_entry *ranks, size_t n_ranks,
                      const char *bytelevel_word, ids *out) {
    size_t n = 0, cap = 16;
    char **sym = malloc(cap * sizeof *sym);
    const unsigned char *w = (const unsigned char *)bytelevel_word;
    for (size_t i = 0; w[i];) { /* split into characters */
        size_t k = w[i] < 0x80 ? 1 : w[i] < 0xE0 ? 2 : w[i] < 0xF0 ? 3 : 4;
        if (n == cap)
            sym = realloc(sym, (cap *= 2) * sizeof *sym);
        sym[n] = strndup((const char *)w + i, k);
        n++;
        i += k;
    }
    char buf[4096];
    for (;;) {
        int best = -1;
        size_t best_i = 0;
        for (size_t i = 0; i + 1 < n; i++) {
            int len = snprintf(buf, sizeof buf, "%s %s", sym[i], sym[i + 1]);
            rank_entry key = {buf, (size_t)len, 0};
            const rank_entry *e = bsearch(&key, ranks, n_ranks, sizeof *ranks, cmp_rank_entry);
            if (e && (best < 0 || e->rank < best)) {
                best = e->rank;
                best_i = i;
            }
        }
        if (best < 0)
            break;
        size_t la = strlen(sym[best_i]), lb = strlen(sym[best_i + 1]);
        char *m = malloc(la + lb + 1);
        memcpy(m, sym[best_i], la);
        memcpy(m + la, sym[best_i + 1], lb + 1);
        free(sym[best_i]);
        free(sym[best_i + 1]);
        sym[best_i] = m;
        memmove(sym + best_i + 1, sym + best_i + 2, (n - best_i - 2) * sizeof *sym);
        n--;
    }
    out->n = 0;
    for (size_t i = 0; i < n; i++) {
        ids_push(out, qr_tokenizer_find(tok, sym[i]));
        free(sym[i]);
    }
    free(sym);
}

/* ---- GPT-2's byte-to-unicode map, written independently of tokenizer.c ---------------------- */

static void byte_char(unsigned b, char out[3]) {
    static unsigned table[256];
    static int ready;
    if (!ready) {
        unsigned next = 256;
        for (unsigned x = 0; x < 256; x++) {
            int printable = (x >= '!' && x <= '~') || (x >= 0xA1 && x <= 0xAC) || (x >= 0xAE);
            table[x] = printable ? x : next++;
        }
        ready = 1;
    }
    size_t o = 0;
    put_utf8(out, &o, table[b]);
    out[o] = '\0';
}

/* ---- threads ---------------------------------------------------------------------------------- */

typedef struct thread_job {
    const qr_tokenizer *tok;
    const golden *g;
    size_t bad;
} thread_job;

static void *thread_main(void *arg) {
    thread_job *job = arg;
    ids got = {0};
    for (int round = 0; round < 2; round++)
        for (size_t i = 0; i < job->g->n; i++)
            if (tokenize(job->tok, job->g->text[i], job->g->len[i], &got) ||
                !same_ids(&got, &job->g->want[i]))
                job->bad++;
    free(got.v);
    return NULL;
}

/* ---- tests ------------------------------------------------------------------------------------ */

static void expect_ids(const qr_tokenizer *tok, const char *text, size_t len, const int32_t *want,
                       size_t n_want) {
    ids got = {0}, w = {(int32_t *)want, n_want, n_want};
    CHECK(tokenize(tok, text, len, &got) == 0 && same_ids(&got, &w), "ids of \"%.*s\"", (int)len, text);
    if (!same_ids(&got, &w))
        show_diff(tok, "ids", &got, &w);
    free(got.v);
}

static void test_model_md(const qr_tokenizer *tok) {
    CHECK(qr_tokenizer_n_tokens(tok) == 151669, "n_tokens %zu", qr_tokenizer_n_tokens(tok));
    expect_ids(tok, "yes", 3, (const int32_t[]){9693}, 1);
    expect_ids(tok, "no", 2, (const int32_t[]){2152}, 1);
    expect_ids(tok, "\n", 1, (const int32_t[]){198}, 1);
    expect_ids(tok, "\n\n", 2, (const int32_t[]){271}, 1);
    struct {
        const char *text;
        int32_t id;
    } specials[] = {{"<|endoftext|>", 151643}, {"<|im_start|>", 151644}, {"<|im_end|>", 151645},
                    {"<think>", 151667},       {"</think>", 151668},     {"yes", 9693},
                    {"no", 2152},              {"Ċ", 198},               {"ĊĊ", 271}};
    for (size_t i = 0; i < sizeof specials / sizeof specials[0]; i++) {
        CHECK(qr_tokenizer_find(tok, specials[i].text) == specials[i].id, "find(%s) = %d",
              specials[i].text, qr_tokenizer_find(tok, specials[i].text));
        const char *t = qr_tokenizer_token(tok, specials[i].id);
        CHECK(t && strcmp(t, specials[i].text) == 0, "token(%d) = %s", specials[i].id, t ? t : "NULL");
    }
    CHECK(qr_tokenizer_find(tok, "no such token, surely") == -1, "find of a missing token");
    CHECK(qr_tokenizer_find(tok, "") == -1, "find of the empty string");
    CHECK(qr_tokenizer_token(tok, -1) == NULL && qr_tokenizer_token(tok, 151669) == NULL,
          "token() out of range");

    /* The reranker's prefix and suffix, assembled as the prompt code will. */
    const int32_t im_start = qr_tokenizer_find(tok, "<|im_start|>");
    const int32_t im_end = qr_tokenizer_find(tok, "<|im_end|>");
    ids prompt = {0}, part = {0};
    ids_push(&prompt, im_start);
    const char *system = "system\nJudge whether the Document meets the requirements based on the Query "
                         "and the Instruct provided. Note that the answer can only be \"yes\" or \"no\".";
    tokenize(tok, system, strlen(system), &part);
    for (size_t i = 0; i < part.n; i++)
        ids_push(&prompt, part.v[i]);
    ids_push(&prompt, im_end);
    tokenize(tok, "\n", 1, &part);
    for (size_t i = 0; i < part.n; i++)
        ids_push(&prompt, part.v[i]);
    ids_push(&prompt, im_start);
    tokenize(tok, "user\n", 5, &part);
    for (size_t i = 0; i < part.n; i++)
        ids_push(&prompt, part.v[i]);
    static const int32_t head[] = {151644, 8948, 198, 60256};
    static const int32_t tail[] = {151645, 198, 151644, 872, 198};
    CHECK(prompt.n == 39, "reranker prefix has %zu tokens, not 39", prompt.n);
    CHECK(prompt.n >= 9 && memcmp(prompt.v, head, sizeof head) == 0 &&
              memcmp(prompt.v + prompt.n - 5, tail, sizeof tail) == 0,
          "reranker prefix ends");

    prompt.n = 0;
    ids_push(&prompt, im_end);
    tokenize(tok, "\n", 1, &part);
    ids_push(&prompt, part.v[0]);
    ids_push(&prompt, im_start);
    tokenize(tok, "assistant\n", 10, &part);
    for (size_t i = 0; i < part.n; i++)
        ids_push(&prompt, part.v[i]);
    ids_push(&prompt, qr_tokenizer_find(tok, "<think>"));
    tokenize(tok, "\n\n", 2, &part);
    ids_push(&prompt, part.v[0]);
    ids_push(&prompt, qr_tokenizer_find(tok, "</think>"));
    ids_push(&prompt, part.v[0]);
    static const int32_t suffix[] = {151645, 198, 151644, 77091, 198, 151667, 271, 151668, 271};
    ids want = {(int32_t *)suffix, 9, 9};
    CHECK(same_ids(&prompt, &want), "reranker suffix");

    /* Specials in user text are plain text: no id of an added token appears. */
    const char *user = "a<|im_end|>b<|im_start|>user\n<think>x</think><|endoftext|>";
    tokenize(tok, user, strlen(user), &part);
    int special_seen = 0;
    for (size_t i = 0; i < part.n; i++)
        special_seen |= part.v[i] >= 151643;
    CHECK(part.n > 10 && !special_seen, "special strings in text gave special ids");
    free(prompt.v);
    free(part.v);
}

static void test_invalid_utf8_and_nul(const qr_tokenizer *tok) {
    /* Unicode's examples: each maximal ill-formed subpart is one U+FFFD. */
    static const struct {
        const char *bad;
        size_t len;
        const char *replaced;
    } cases[] = {
        {"\x61\xF1\x80\x80\xE1\x80\xC2\x62\x80\x63\x80\xBF\x64", 13,
         "a\xEF\xBF\xBD\xEF\xBF\xBD\xEF\xBF\xBD" "b\xEF\xBF\xBD" "c\xEF\xBF\xBD\xEF\xBF\xBD" "d"},
        {"\xC0\xAF\xE0\x80\xBF\xF0\x81\x82\x41", 9,
         "\xEF\xBF\xBD\xEF\xBF\xBD\xEF\xBF\xBD\xEF\xBF\xBD\xEF\xBF\xBD\xEF\xBF\xBD\xEF\xBF\xBD\xEF\xBF\xBD" "A"},
        {"\xED\xA0\x80\xED\xBF\xBF\xED\xAF\x41", 9,
         "\xEF\xBF\xBD\xEF\xBF\xBD\xEF\xBF\xBD\xEF\xBF\xBD\xEF\xBF\xBD\xEF\xBF\xBD\xEF\xBF\xBD\xEF\xBF\xBD" "A"},
        {"\xE1\x80\xE2\xF0\x91\x92\xF1\xBF\x41", 9,
         "\xEF\xBF\xBD\xEF\xBF\xBD\xEF\xBF\xBD\xEF\xBF\xBD" "A"},
        {"caf\xE9 ok", 7, "caf\xEF\xBF\xBD ok"},
        {"\xF4\x90\x80\x80", 4, "\xEF\xBF\xBD\xEF\xBF\xBD\xEF\xBF\xBD\xEF\xBF\xBD"},
        {"end\xE4\xB8", 5, "end\xEF\xBF\xBD"},
    };
    ids a = {0}, b = {0};
    for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++) {
        size_t rl = qr_utf8_repaired_len(cases[i].bad, cases[i].len);
        char buf[128];
        size_t w = qr_utf8_repair(cases[i].bad, cases[i].len, buf);
        CHECK(rl == strlen(cases[i].replaced) && w == rl && memcmp(buf, cases[i].replaced, rl) == 0,
              "utf8 repair case %zu", i);
        CHECK(tokenize(tok, cases[i].bad, cases[i].len, &a) == 0 &&
                  tokenize(tok, cases[i].replaced, strlen(cases[i].replaced), &b) == 0 && same_ids(&a, &b),
              "invalid UTF-8 case %zu differs from its replaced text", i);
    }
    CHECK(qr_utf8_valid_prefix("ab\xC3", 3) == 2, "valid prefix");
    CHECK(qr_utf8_valid_prefix("\xF0\x9F\x98\x80", 4) == 4, "valid 4-byte");

    /* NUL is an ordinary character: byte 0 is "Ā" in byte-level form. */
    char bytes0[3];
    byte_char(0, bytes0);
    int32_t nul = qr_tokenizer_find(tok, bytes0);
    CHECK(nul >= 0, "byte-level NUL token");
    tokenize(tok, "a\0b", 3, &a);
    int32_t want[] = {qr_tokenizer_find(tok, "a"), nul, qr_tokenizer_find(tok, "b")};
    CHECK(a.n == 3 && memcmp(a.v, want, sizeof want) == 0, "a NUL b gave %zu ids", a.n);
    tokenize(tok, "\0\0\0", 3, &a);
    CHECK(a.n >= 1, "NUL run gave no ids");

    /* Appending: ids go after what is there; an empty text adds nothing. */
    ids acc = {0};
    qrank_error err;
    CHECK(qr_tokenize(tok, "yes", 3, &acc.v, &acc.n, &acc.cap, &err) == 0 &&
              qr_tokenize(tok, "", 0, &acc.v, &acc.n, &acc.cap, &err) == 0 &&
              qr_tokenize(tok, NULL, 0, &acc.v, &acc.n, &acc.cap, &err) == 0 &&
              qr_tokenize(tok, "no", 2, &acc.v, &acc.n, &acc.cap, &err) == 0 && acc.n == 2 &&
              acc.v[0] == 9693 && acc.v[1] == 2152,
          "appending ids");
    CHECK(qr_tokenize(tok, NULL, 3, &acc.v, &acc.n, &acc.cap, &err) == QRANK_E_INVALID_ARGUMENT,
          "NULL text with a length");
    free(acc.v);
    free(a.v);
    free(b.v);
}

static double seconds_to_tokenize(const qr_tokenizer *tok, const char *s, size_t n, ids *out) {
    double t0 = now();
    CHECK(tokenize(tok, s, n, out) == 0, "tokenize %zu bytes", n);
    return now() - t0;
}

static void test_long_inputs(const qr_tokenizer *tok, const golden *g, const rank_entry *ranks,
                             size_t n_ranks) {
    const size_t size = 100 * 1000;
    char *text = malloc(size + 64);
    ids got = {0};

    /* 100 KB of mixed text: the corpus, concatenated. */
    size_t n = 0;
    for (size_t i = 0; n < size; i = (i + 1) % g->n) {
        size_t k = g->len[i] < size - n ? g->len[i] : size - n;
        memcpy(text + n, g->text[i], k);
        n += k;
    }
    double t = seconds_to_tokenize(tok, text, n, &got);
    printf("mixed text: %zu bytes -> %zu ids in %.1f ms (%.1f MB/s)\n", n, got.n, t * 1e3, n / t / 1e6);
    size_t ascii = 0;
    for (size_t i = 0; i < n; i++)
        if ((unsigned char)text[i] < 0x80)
            text[ascii++] = text[i];
    t = seconds_to_tokenize(tok, text, ascii, &got);
    printf("its ASCII bytes: %zu bytes in %.1f ms (%.1f MB/s)\n", ascii, t * 1e3, ascii / t / 1e6);

    /* 100 KB single "words": one piece each through BPE; a quadratic BPE or
     * regex would take minutes here. */
    struct {
        const char *name;
        char fill[16];
    } words[] = {{"one letter", "a"}, {"two letters", "ab"}, {"digits", "0123456789"},
                 {"spaces", " "},     {"newlines", "\n"},    {"CJK", "\xE5\x93\x88"}};
    for (size_t w = 0; w < sizeof words / sizeof words[0]; w++) {
        size_t fl = strlen(words[w].fill);
        for (n = 0; n + fl <= size; n += fl)
            memcpy(text + n, words[w].fill, fl);
        t = seconds_to_tokenize(tok, text, n, &got);
        printf("100 KB %s: %zu ids in %.1f ms\n", words[w].name, got.n, t * 1e3);
        CHECK(t < 10.0, "100 KB of %s took %.1f s", words[w].name, t);
    }
    unsigned rng = 12345;
    for (n = 0; n < size; n++) {
        rng = rng * 1103515245u + 12345u;
        text[n] = "abcdefghijklmnopqrstuvwxyz"[(rng >> 16) % 26];
    }
    t = seconds_to_tokenize(tok, text, n, &got);
    printf("100 KB random letters: %zu ids in %.1f ms\n", got.n, t * 1e3);
    CHECK(t < 10.0, "100 KB random word took %.1f s", t);

    /* The heap BPE against the naive one on long single pieces (" " + letters
     * is one piece of the Qwen regex; ' ' is "Ġ" in byte-level form). */
    static const char *alphabets[] = {"ab", "abc", "aeiou", "thesandring", "x", "qwertyuiopasdfghjklzxcvbnm"};
    ids naive = {0};
    char *bl = malloc(2 * 1600 + 8);
    for (size_t a = 0; a < sizeof alphabets / sizeof alphabets[0]; a++) {
        size_t len = 300 + 250 * a, al = strlen(alphabets[a]);
        text[0] = ' ';
        for (size_t i = 1; i <= len; i++) {
            rng = rng * 1103515245u + 12345u;
            text[i] = alphabets[a][(rng >> 16) % al];
        }
        strcpy(bl, "\xC4\xA0"); /* Ġ */
        memcpy(bl + 2, text + 1, len);
        bl[len + 2] = '\0';
        tokenize(tok, text, len + 1, &got);
        naive_bpe(tok, ranks, n_ranks, bl, &naive);
        CHECK(same_ids(&got, &naive), "BPE of a %zu-letter word over \"%s\" differs from naive BPE", len,
              alphabets[a]);
        if (!same_ids(&got, &naive))
            show_diff(tok, "heap vs naive", &got, &naive);
    }
    free(bl);
    free(naive.v);
    free(got.v);
    free(text);
}

/* Hostile bytes: random byte strings must tokenize, agree with their
 * U+FFFD-repaired text, and decode back (byte-level texts of the ids, mapped
 * to bytes) to exactly the NFC of that text: no byte lost or invented. */
static void test_random_bytes_round_trip(const qr_tokenizer *tok) {
    int byte_of[512];
    for (int i = 0; i < 512; i++)
        byte_of[i] = -1;
    for (unsigned b = 0; b < 256; b++) {
        char c[3];
        byte_char(b, c);
        const unsigned char *u = (const unsigned char *)c;
        unsigned cp = u[0] < 0x80 ? u[0] : ((u[0] & 0x1Fu) << 6) | (u[1] & 0x3Fu);
        byte_of[cp] = (int)b;
    }
    unsigned rng = 777;
    ids a = {0}, b = {0};
    char text[96], repaired[96 * 3], decoded[4096];
    size_t bad = 0;
    for (int round = 0; round < 3000; round++) {
        rng = rng * 1103515245u + 12345u;
        size_t len = (rng >> 16) % 64;
        for (size_t i = 0; i < len; i++) {
            rng = rng * 1103515245u + 12345u;
            unsigned r = rng >> 16;
            /* mostly bytes that make up UTF-8, sometimes anything */
            text[i] = (char)(r % 4 == 0 ? (r >> 2) & 0xFF : r % 4 == 1 ? 0x80 + ((r >> 2) & 0x3F)
                             : r % 4 == 2 ? 0xC2 + ((r >> 2) % 0x33) : ' ' + ((r >> 2) % 95));
        }
        size_t rl = qr_utf8_repair(text, len, repaired);
        if (tokenize(tok, text, len, &a) || tokenize(tok, repaired, rl, &b) || !same_ids(&a, &b)) {
            bad++;
            continue;
        }
        size_t o = 0;
        for (size_t i = 0; i < a.n && o < sizeof decoded - 8; i++) {
            const unsigned char *t = (const unsigned char *)qr_tokenizer_token(tok, a.v[i]);
            while (t && *t) {
                unsigned cp = t[0] < 0x80 ? t[0] : ((t[0] & 0x1Fu) << 6) | (t[1] & 0x3Fu);
                t += t[0] < 0x80 ? 1 : 2;
                decoded[o++] = (char)(cp < 512 && byte_of[cp] >= 0 ? byte_of[cp] : '?');
            }
        }
        utf8proc_uint8_t *nfc = NULL;
        utf8proc_ssize_t nl = rl ? utf8proc_map((const utf8proc_uint8_t *)repaired, (utf8proc_ssize_t)rl,
                                                &nfc, UTF8PROC_STABLE | UTF8PROC_COMPOSE)
                                 : 0;
        if (nl < 0 || (size_t)nl != o || (o && memcmp(nfc, decoded, o) != 0))
            bad++;
        free(nfc);
    }
    CHECK(bad == 0, "%zu of 3000 random byte strings did not round-trip", bad);
    free(a.v);
    free(b.v);
}

/* ---- synthetic vocabularies --------------------------------------------------------------- */

typedef struct small_vocab {
    char texts[300][16];
    qr_str tokens[300];
    int32_t types[300];
    size_t n;
    qr_str merges[16];
    size_t n_merges;
} small_vocab;

static void small_init(small_vocab *v) {
    memset(v, 0, sizeof *v);
    for (unsigned b = 0; b < 256; b++)
        byte_char(b, v->texts[b]);
    v->n = 256;
}

static int32_t small_add(small_vocab *v, const char *text, int32_t type) {
    snprintf(v->texts[v->n], sizeof v->texts[v->n], "%s", text);
    v->types[v->n] = type;
    return (int32_t)v->n++;
}

static int small_build(small_vocab *v, const char *pre_regex, qr_tokenizer **tok, qrank_error *err) {
    for (size_t i = 0; i < v->n; i++) {
        v->tokens[i] = (qr_str){v->texts[i], strlen(v->texts[i])};
        if (i < 256)
            v->types[i] = 1;
    }
    qr_vocab_spec spec = {v->tokens, v->types, v->n, v->merges, v->n_merges, pre_regex};
    return qr_tokenizer_create(&spec, tok, err);
}

#define MERGES(v, ...)                                                                             \
    do {                                                                                           \
        const char *list_[] = {__VA_ARGS__};                                                       \
        (v)->n_merges = sizeof list_ / sizeof list_[0];                                            \
        for (size_t i_ = 0; i_ < (v)->n_merges; i_++)                                              \
            (v)->merges[i_] = (qr_str){list_[i_], strlen(list_[i_])};                              \
    } while (0)

static void test_synthetic(void) {
    small_vocab v;
    qr_tokenizer *tok;
    qrank_error err;
    ids got = {0};

    /* Lowest rank first, whatever its position. */
    small_init(&v);
    int32_t ab = small_add(&v, "ab", 1), bc = small_add(&v, "bc", 1), abc = small_add(&v, "abc", 1);
    MERGES(&v, "b c", "a b", "a bc");
    CHECK(small_build(&v, NULL, &tok, &err) == 0, "build: %s", err.message);
    expect_ids(tok, "abc", 3, (const int32_t[]){abc}, 1);
    expect_ids(tok, "abx", 3, (const int32_t[]){ab, 'x' - 0}, 2);
    qr_tokenizer_free(tok);
    (void)bc;

    /* A repeated merge takes its later rank (as HF's rank maps do): now
     * "a b" (rank 1) beats "b c" (rank 2), and "ab c" is no merge. */
    small_init(&v);
    ab = small_add(&v, "ab", 1);
    bc = small_add(&v, "bc", 1);
    small_add(&v, "abc", 1);
    MERGES(&v, "b c", "a b", "b c", "a bc");
    CHECK(small_build(&v, NULL, &tok, &err) == 0, "build: %s", err.message);
    expect_ids(tok, "abc", 3, (const int32_t[]){ab, 'c'}, 2);
    qr_tokenizer_free(tok);

    /* Equal ranks: the leftmost pair merges first. */
    small_init(&v);
    int32_t aa = small_add(&v, "aa", 1);
    MERGES(&v, "a a");
    CHECK(small_build(&v, NULL, &tok, &err) == 0, "build: %s", err.message);
    expect_ids(tok, "aaa", 3, (const int32_t[]){aa, 'a'}, 2);
    expect_ids(tok, "aaaaa", 5, (const int32_t[]){aa, aa, 'a'}, 3);
    qr_tokenizer_free(tok);

    /* A custom split regex: matches and the text between them are pieces;
     * an empty match splits but is no piece. */
    small_init(&v);
    ab = small_add(&v, "ab", 1);
    MERGES(&v, "a b");
    CHECK(small_build(&v, "b", &tok, &err) == 0, "build: %s", err.message);
    expect_ids(tok, "abab", 4, (const int32_t[]){'a', 'b', 'a', 'b'}, 4);
    qr_tokenizer_free(tok);
    CHECK(small_build(&v, "x*", &tok, &err) == 0, "build: %s", err.message);
    expect_ids(tok, "abab", 4, (const int32_t[]){'a', 'b', 'a', 'b'}, 4);
    qr_tokenizer_free(tok);
    CHECK(small_build(&v, "q", &tok, &err) == 0, "build: %s", err.message);
    expect_ids(tok, "abab", 4, (const int32_t[]){ab, ab}, 2);
    qr_tokenizer_free(tok);

    /* Refusals, each with a message. */
    struct {
        const char *what;
        const char *merge;
        const char *extra;
        int32_t extra_type;
        const char *regex;
        int code;
    } bad[] = {
        {"merge without a space", "ab", "ab", 1, NULL, QRANK_E_FORMAT},
        {"merge with two spaces", "a  b", "ab", 1, NULL, QRANK_E_FORMAT},
        {"merge of an unknown token", "a zz", "azz", 1, NULL, QRANK_E_FORMAT},
        {"merge whose result is unknown", "a b", "xy", 1, NULL, QRANK_E_FORMAT},
        {"merge into a control token", "a b", "ab", 3, NULL, QRANK_E_FORMAT},
        {"duplicate token text", "a b", "a", 1, NULL, QRANK_E_FORMAT},
        {"unknown token type", "a b", "ab", 9, NULL, QRANK_E_FORMAT},
        {"unsupported regex flag", "a b", "ab", 1, "(?i)a", QRANK_E_UNSUPPORTED},
        {"nested class", "a b", "ab", 1, "[[a]]", QRANK_E_UNSUPPORTED},
        {"broken regex", "a b", "ab", 1, "(a", QRANK_E_UNSUPPORTED},
        {"regex PCRE2 rejects", "a b", "ab", 1, "a{2,1}", QRANK_E_FORMAT},
    };
    for (size_t i = 0; i < sizeof bad / sizeof bad[0]; i++) {
        small_init(&v);
        small_add(&v, bad[i].extra, bad[i].extra_type);
        MERGES(&v, bad[i].merge);
        err.message[0] = '\0';
        tok = NULL;
        int rc = small_build(&v, bad[i].regex, &tok, &err);
        CHECK(rc == bad[i].code && tok == NULL && err.message[0], "%s: rc %d (%s)", bad[i].what, rc,
              err.message);
        qr_tokenizer_free(tok);
    }
    small_init(&v);
    snprintf(v.texts[32], sizeof v.texts[32], "%s", "not-a-byte");
    CHECK(small_build(&v, NULL, &tok, &err) == QRANK_E_FORMAT, "a missing byte token is refused");
    small_init(&v);
    v.types[0] = 3;
    qr_vocab_spec spec = {v.tokens, v.types, 100, NULL, 0, NULL};
    CHECK(qr_tokenizer_create(&spec, &tok, &err) == QRANK_E_FORMAT, "a vocab under 256 tokens");
    CHECK(qr_tokenizer_create(NULL, &tok, &err) == QRANK_E_INVALID_ARGUMENT, "NULL spec");
    free(got.v);
}

static void test_regex_translation(void) {
    static const struct {
        const char *onig, *pcre2;
    } cases[] = {
        {"\\s+", "\\p{White_Space}+"},
        {"[^\\s\\p{L}]", "[^\\p{White_Space}\\p{L}]"},
        {"(?i:'s)", "(?:\\x{27}[sS])"},
        {"(?i:[a-c])x", "(?:[\\x{61}-\\x{63}\\x{41}-\\x{43}])\\x{78}"},
        {"\\v", "\\x{B}"},
        {"a{,3}", "\\x{61}{0,3}"},
        {"a{2}b{1,}", "\\x{61}{2}\\x{62}{1,}"},
        {"{x}", "\\x{7B}\\x{78}\\x{7D}"},
        {"\\u00e9|\\x{4E2D}", "\\x{E9}|\\x{4E2D}"},
        {"^a$", "(?<![^\\n])\\x{61}(?![^\\n])"},
    };
    for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++) {
        char *out = NULL;
        qrank_error err;
        int rc = qr_regex_onig_to_pcre2(cases[i].onig, strlen(cases[i].onig), &out, &err);
        CHECK(rc == 0 && strcmp(out, cases[i].pcre2) == 0, "translate %s -> %s (want %s)", cases[i].onig,
              rc ? err.message : out, cases[i].pcre2);
        free(out);
    }
}

/* The NFC fast path's slow twin: utf8proc's tables, every code point. An
 * inert code point must be its own NFC with combining class 0, and must never
 * be a non-initial part of any canonical decomposition (the seconds of
 * composition pairs are exactly those; the few seconds that are starters,
 * like Hangul vowels, have no decomposition of their own). */
static void test_nfc_inert(void) {
    size_t inert = 0, bad_self = 0, bad_second = 0;
    for (uint32_t cp = 0; cp <= 0x10FFFF; cp++) {
        if (cp >= 0xD800 && cp <= 0xDFFF)
            continue;
        utf8proc_int32_t d[8];
        int last;
        utf8proc_ssize_t n = utf8proc_decompose_char((utf8proc_int32_t)cp, d, 8, UTF8PROC_DECOMPOSE, &last);
        for (utf8proc_ssize_t k = 1; k < n && k < 8; k++)
            if (qr_nfc_inert((uint32_t)d[k]) && bad_second++ < 5)
                fprintf(stderr, "U+%04X is inert but a non-initial part of U+%04X\n", (unsigned)d[k],
                        (unsigned)cp);
        if (!qr_nfc_inert(cp))
            continue;
        inert++;
        /* A decomposable inert c could only be the second of a pair <s, c> if
         * its first part showed up at a non-initial place above; that needs
         * the first part to be inert too (Hangul syllables aside: Hangul
         * composes only L+V and LV+T, algorithmically). */
        if (n > 1 && !qr_nfc_inert((uint32_t)d[0]) && !(cp >= 0xAC00 && cp <= 0xD7A3) && bad_second++ < 5)
            fprintf(stderr, "U+%04X is inert but decomposes to a non-inert U+%04X\n", (unsigned)cp,
                    (unsigned)d[0]);
        char in[5];
        size_t len = 0;
        put_utf8(in, &len, cp);
        utf8proc_uint8_t *nfc = NULL;
        utf8proc_ssize_t r = utf8proc_map((const utf8proc_uint8_t *)in, (utf8proc_ssize_t)len, &nfc,
                                          UTF8PROC_STABLE | UTF8PROC_COMPOSE);
        if ((r != (utf8proc_ssize_t)len || memcmp(nfc, in, len) != 0 ||
             utf8proc_get_property((utf8proc_int32_t)cp)->combining_class != 0) &&
            bad_self++ < 5)
            fprintf(stderr, "U+%04X is inert but not its own NFC or has a combining class\n", (unsigned)cp);
        free(nfc);
    }
    CHECK(bad_self == 0 && bad_second == 0 && inert > 30000, "NFC inert set: %zu inert, %zu/%zu bad",
          inert, bad_self, bad_second);
    qrank_error err;

    /* Span-wise NFC against utf8proc on the whole text, on random mixes of
     * inert characters and the marks, jamo and singletons around them. */
    static const char *const pool[] = {
        "e", "\xCC\x81", "\xCC\xA3", "\xCC\x88", "A", " ", "\xEA\xB0\x80" /* 가 */,
        "\xE1\x86\xA8" /* T jamo */, "\xE1\x84\x80" /* L */, "\xE1\x85\xA1" /* V */,
        "\xE3\x81\x8B" /* か */, "\xE3\x82\x99" /* voiced mark */, "\xE0\xA5\x98" /* U+0958 */,
        "\xCE\xB1" /* α */, "\xCD\x85" /* U+0345 */, "\xE4\xB8\xAD", "\xE2\x84\xAB" /* Å sign */,
        "\xF0\x9F\x98\x80", "\xE2\x83\xA3" /* keycap */, "\xEF\xB8\x8F", "\xD8\xA7" /* alef */,
        "\xD9\x93" /* maddah */, "\xE0\xB8\x81", "\xE0\xB8\xB4" /* Thai mark */};
    unsigned rng = 99;
    size_t mismatches = 0;
    for (int round = 0; round < 3000; round++) {
        char text[256];
        size_t len = 0;
        rng = rng * 1103515245u + 12345u;
        int parts = (int)((rng >> 16) % 12);
        for (int k = 0; k < parts; k++) {
            rng = rng * 1103515245u + 12345u;
            const char *piece = pool[(rng >> 16) % (sizeof pool / sizeof pool[0])];
            memcpy(text + len, piece, strlen(piece));
            len += strlen(piece);
        }
        char *spanwise = NULL;
        size_t spanwise_len = 0;
        utf8proc_uint8_t *whole = NULL;
        utf8proc_ssize_t wl = len ? utf8proc_map((const utf8proc_uint8_t *)text, (utf8proc_ssize_t)len, &whole,
                                                 UTF8PROC_STABLE | UTF8PROC_COMPOSE)
                                  : 0;
        int rc = qr_nfc(text, len, &spanwise, &spanwise_len, &err);
        const char *got = spanwise ? spanwise : text;
        if (rc || wl < 0 || (size_t)wl != spanwise_len || (wl && memcmp(got, whole, (size_t)wl) != 0))
            mismatches++;
        free(spanwise);
        free(whole);
    }
    CHECK(mismatches == 0, "span-wise NFC differs from whole-text utf8proc on %zu strings", mismatches);

    /* And the whole path: decomposed input is composed, inert input is kept. */
    char *out;
    size_t out_len;
    CHECK(qr_nfc("cafe\xCC\x81", 6, &out, &out_len, &err) == 0 && out && out_len == 5 &&
              memcmp(out, "caf\xC3\xA9", 5) == 0,
          "NFC composes e + U+0301");
    free(out);
    CHECK(qr_nfc("\xE4\xB8\xAD caf\xC3\xA9 \xF0\x9F\x98\x80", 14, &out, &out_len, &err) == 0 && !out &&
              out_len == 14,
          "NFC keeps inert text without a copy");
}

static void test_json_refusals(void) {
    /* A minimal valid tokenizer.json, then variants that must be refused. */
    char *vocab = malloc(256 * 24 + 64);
    size_t o = 0;
    for (unsigned b = 0; b < 256; b++) {
        char c[3];
        byte_char(b, c);
        const char *fmt = (c[0] == '"' || c[0] == '\\') ? "%s\"\\%s\":%u" : "%s\"%s\":%u";
        o += (size_t)sprintf(vocab + o, fmt, b ? "," : "", c, b);
    }
    o += (size_t)sprintf(vocab + o, ",\"ab\":256");
    static const char *pre =
        "{\"type\":\"Sequence\",\"pretokenizers\":[{\"type\":\"Split\",\"pattern\":{\"Regex\":\"\\\\s+|\\\\S+\"},"
        "\"behavior\":\"Isolated\",\"invert\":false},{\"type\":\"ByteLevel\",\"add_prefix_space\":false,"
        "\"use_regex\":false}]}";
    struct {
        const char *what, *normalizer, *pre, *model_extra, *merges, *added;
        int code;
    } cases[] = {
        {"valid, \"a b\" merges", "{\"type\":\"NFC\"}", pre, "", "[\"a b\"]", "[]", QRANK_OK},
        {"valid, pair merges", "{\"type\":\"NFC\"}", pre, "", "[[\"a\",\"b\"]]",
         "[{\"id\":257,\"content\":\"<s>\",\"special\":true}]", QRANK_OK},
        {"valid, ByteLevel alone", "{\"type\":\"NFC\"}", "{\"type\":\"ByteLevel\"}", "", "[]", "[]", QRANK_OK},
        {"no normalizer", "null", pre, "", "[]", "[]", QRANK_E_UNSUPPORTED},
        {"NFKC", "{\"type\":\"NFKC\"}", pre, "", "[]", "[]", QRANK_E_UNSUPPORTED},
        {"WordPiece", "{\"type\":\"NFC\"}", pre, "\"type\":\"WordPiece\",", "[]", "[]", QRANK_E_UNSUPPORTED},
        {"byte_fallback", "{\"type\":\"NFC\"}", pre, "\"byte_fallback\":true,", "[]", "[]", QRANK_E_UNSUPPORTED},
        {"dropout", "{\"type\":\"NFC\"}", pre, "\"dropout\":0.1,", "[]", "[]", QRANK_E_UNSUPPORTED},
        {"Whitespace pre-tokenizer", "{\"type\":\"NFC\"}", "{\"type\":\"Whitespace\"}", "", "[]", "[]",
         QRANK_E_UNSUPPORTED},
        {"merge of unknown tokens", "{\"type\":\"NFC\"}", pre, "", "[\"q zz\"]", "[]", QRANK_E_FORMAT},
        {"merges not an array", "{\"type\":\"NFC\"}", pre, "", "{}", "[]", QRANK_E_FORMAT},
        {"gap in ids", "{\"type\":\"NFC\"}", pre, "", "[]", "[{\"id\":300,\"content\":\"<s>\"}]", QRANK_E_FORMAT},
        {"huge id", "{\"type\":\"NFC\"}", pre, "", "[]", "[{\"id\":2000000000,\"content\":\"<s>\"}]",
         QRANK_E_FORMAT},
        {"two added tokens, one gap", "{\"type\":\"NFC\"}", pre, "", "[]",
         "[{\"id\":257,\"content\":\"<s>\"},{\"id\":259,\"content\":\"<t>\"}]", QRANK_E_FORMAT},
        {"added token on a taken id", "{\"type\":\"NFC\"}", pre, "", "[]", "[{\"id\":256,\"content\":\"<s>\"}]",
         QRANK_E_FORMAT},
    };
    size_t cap = o + 4096;
    char *json = malloc(cap);
    for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++) {
        int n = snprintf(json, cap,
                         "{\"added_tokens\":%s,\"normalizer\":%s,\"pre_tokenizer\":%s,"
                         "\"model\":{%s\"type\":\"BPE\",\"vocab\":{%s},\"merges\":%s}}",
                         cases[i].added, cases[i].normalizer, cases[i].pre, cases[i].model_extra, vocab,
                         cases[i].merges);
        qr_tokenizer *tok = NULL;
        qrank_error err = {0};
        int rc = qr_tokenizer_from_json(json, (size_t)n, &tok, &err);
        CHECK(rc == cases[i].code, "%s: rc %d (%s)", cases[i].what, rc, err.message);
        if (rc == QRANK_OK && i == 0)
            expect_ids(tok, "ab ab", 5, (const int32_t[]){256, qr_tokenizer_find(tok, "\xC4\xA0"), 256}, 3);
        if (rc == QRANK_OK && i == 1)
            CHECK(qr_tokenizer_find(tok, "<s>") == 257, "added token lookup");
        qr_tokenizer_free(tok);
    }
    /* Every truncation of a valid file is an error, never a crash. */
    int n = snprintf(json, cap,
                     "{\"added_tokens\":[{\"id\":257,\"content\":\"<s>\",\"special\":true}],"
                     "\"normalizer\":{\"type\":\"NFC\"},\"pre_tokenizer\":%s,"
                     "\"model\":{\"type\":\"BPE\",\"vocab\":{%s},\"merges\":[[\"a\",\"b\"]]}}",
                     pre, vocab);
    size_t accepted = 0;
    for (int cut = 0; cut < n; cut++) {
        qr_tokenizer *t = NULL;
        qrank_error e;
        if (qr_tokenizer_from_json(json, (size_t)cut, &t, &e) == QRANK_OK)
            accepted++;
        qr_tokenizer_free(t);
    }
    CHECK(accepted == 0, "%zu truncations of tokenizer.json were accepted", accepted);
    qr_tokenizer *tok = NULL;
    qrank_error err;
    CHECK(qr_tokenizer_from_json(json, (size_t)n, &tok, &err) == QRANK_OK, "untruncated: %s", err.message);
    qr_tokenizer_free(tok);
    tok = NULL;
    CHECK(qr_tokenizer_from_json("{\"model\":", 9, &tok, &err) == QRANK_E_FORMAT, "truncated JSON");
    CHECK(qr_tokenizer_from_json("[]", 2, &tok, &err) == QRANK_E_FORMAT, "JSON array");
    free(json);
    free(vocab);
}

int main(int argc, char **argv) {
    if (argc < 2) {
        fprintf(stderr, "usage: %s SOURCE_DIR [BUILD_DIR]\n", argv[0]);
        return 2;
    }
    char path[4096];
    snprintf(path, sizeof path, "%s/data/qwen3/tokenizer.json", argv[1]);
    size_t json_len;
    char *json = read_all(path, &json_len);
    if (!json) {
        fprintf(stderr, "cannot read %s\n", path);
        return 1;
    }
    qr_tokenizer *tok = NULL;
    qrank_error err;
    double t0 = now();
    if (qr_tokenizer_from_json(json, json_len, &tok, &err)) {
        fprintf(stderr, "loading %s: %s\n", path, err.message);
        return 1;
    }
    printf("tokenizer.json -> tokenizer: %.0f ms (JSON parse included)\n", (now() - t0) * 1e3);

    golden g, gb;
    snprintf(path, sizeof path, "%s/tests/tokenizer/golden.jsonl", argv[1]);
    if (load_golden(path, "text", &g)) {
        fprintf(stderr, "cannot read %s\n", path);
        return 1;
    }
    snprintf(path, sizeof path, "%s/tests/tokenizer/golden_bytes.jsonl", argv[1]);
    if (load_golden(path, "hex", &gb)) {
        fprintf(stderr, "cannot read %s\n", path);
        return 1;
    }
    CHECK(g.n >= 1000 && gb.n >= 100, "golden files too small: %zu, %zu", g.n, gb.n);
    size_t bad = check_golden(tok, &g, "golden.jsonl");
    CHECK(bad == 0, "%zu of %zu golden texts differ", bad, g.n);
    bad = check_golden(tok, &gb, "golden_bytes.jsonl");
    CHECK(bad == 0, "%zu of %zu golden byte strings differ", bad, gb.n);
    printf("golden: %zu texts, %zu byte strings checked\n", g.n, gb.n);
    bad = check_splits(tok, &g) + check_splits(tok, &gb);
    CHECK(bad == 0, "%zu prompt splits tokenize differently from the whole prompt", bad);
    printf("prompt splits: %zu texts x 3 heads tokenize as the whole prompt\n", g.n + gb.n);

    /* The GGUF route: tokens by id, types, "a b" merges. */
    gguf_like gl;
    CHECK(derive_gguf_like(json, json_len, &gl) == 0, "deriving the GGUF-like spec");
    qr_vocab_spec spec = {gl.tokens, gl.types, gl.n_tokens, gl.merges, gl.n_merges, NULL};
    qr_tokenizer *tok2 = NULL;
    t0 = now();
    int rc = qr_tokenizer_create(&spec, &tok2, &err);
    printf("qr_tokenizer_create (%zu tokens, %zu merges): %.0f ms\n", gl.n_tokens, gl.n_merges,
           (now() - t0) * 1e3);
    CHECK(rc == 0, "qr_tokenizer_create: %s", rc ? err.message : "");
    if (tok2) {
        bad = check_golden(tok2, &g, "golden.jsonl via spec");
        CHECK(bad == 0, "%zu golden texts differ through the GGUF-like spec", bad);
        bad = check_golden(tok2, &gb, "golden_bytes.jsonl via spec");
        CHECK(bad == 0, "%zu golden byte strings differ through the GGUF-like spec", bad);
        qr_tokenizer_free(tok2);
    }

    /* Ranks for the naive BPE, sorted for bsearch. */
    rank_entry *ranks = malloc(gl.n_merges * sizeof *ranks);
    for (size_t i = 0; i < gl.n_merges; i++)
        ranks[i] = (rank_entry){gl.merges[i].ptr, gl.merges[i].len, (int)i};
    qsort(ranks, gl.n_merges, sizeof *ranks, cmp_rank_entry);

    test_model_md(tok);
    test_invalid_utf8_and_nul(tok);
    test_random_bytes_round_trip(tok);

    /* Two threads on one tokenizer, each through the whole corpus twice. */
    thread_job jobs[2] = {{tok, &g, 0}, {tok, &g, 0}};
    pthread_t th[2];
    for (int i = 0; i < 2; i++)
        pthread_create(&th[i], NULL, thread_main, &jobs[i]);
    for (int i = 0; i < 2; i++)
        pthread_join(th[i], NULL);
    CHECK(jobs[0].bad == 0 && jobs[1].bad == 0, "threads: %zu and %zu mismatches", jobs[0].bad,
          jobs[1].bad);

    test_long_inputs(tok, &g, ranks, gl.n_merges);
    test_synthetic();
    test_regex_translation();
    test_json_refusals();
    test_nfc_inert();

    free(ranks);
    free_gguf_like(&gl);
    free_golden(&g);
    free_golden(&gb);
    qr_tokenizer_free(tok);
    free(json);
    if (failures) {
        fprintf(stderr, "%d failure(s)\n", failures);
        return 1;
    }
    printf("all tokenizer tests passed\n");
    return 0;
}
