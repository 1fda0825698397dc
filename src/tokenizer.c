/* tokenizer.c - Qwen3's byte-level BPE: building the tables once, then
 * text -> ids with the exact semantics of Hugging Face tokenizers.
 *
 * Pipeline of qr_tokenize: invalid UTF-8 -> U+FFFD (utf8_repair.c), NFC
 * (nfc.c: utf8proc), split by the pre-tokenizer regex (PCRE2 + JIT, matches and the
 * text between them are pieces: "Isolated"), then BPE on each piece.
 *
 * Decisions:
 * - BPE works on ids, never on strings. Each byte of a piece starts as the id
 *   of its GPT-2 byte-level character (byte_id[256]); merges are a hash table
 *   from the pair (left id, right id) to (rank, merged id). So the byte-to-
 *   unicode map is applied once, at build time.
 * - Merging follows HF: always the lowest rank, the leftmost of equal ranks,
 *   until no pair has a rank. A binary heap of candidate pairs keyed by
 *   (rank, position) over a linked list of symbols makes it O(n log n) per
 *   piece, so a 100 KB "word" costs no more per byte than a short one.
 *   Candidates go stale when a neighbour merges; they remember the two ids
 *   they were made from and are dropped when those ids are no longer there.
 * - No cache and no shared scratch: the tokenizer is read-only after
 *   qr_tokenizer_create, every call allocates its own scratch, and PCRE2 gets
 *   per-call match data, so any number of threads may tokenize at once.
 * - Validation is strict because files are hostile: token texts must be
 *   unique and non-empty, types known, every byte must have its byte-level
 *   token, and every merge must name two known tokens whose concatenation is
 *   a token (as the Rust tokenizers crate demands). Control tokens (type 3)
 *   may take part in no merge and stand for no byte, so plain text can never
 *   produce a special id. A repeated merge takes the later rank, as both HF
 *   implementations do (their rank maps are filled in order).
 * - Symbols that have no id cannot occur: every byte has one. */
#include "tokenizer.h"

#define PCRE2_CODE_UNIT_WIDTH 8
#include <pcre2.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "error.h"
#include "nfc.h"
#include "tokenizer_regex.h"
#include "utf8_repair.h"

#define TOKEN_TYPE_MAX 6     /* GGUF: 0 undefined .. 6 byte */
#define TOKEN_TYPE_CONTROL 3
#define EMPTY_SLOT (-1)
#define EMPTY_MERGE UINT64_MAX

/* The text -> id table stores a second half of the hash beside the id so that
 * probing rarely touches token texts (cache misses dominate building). */
typedef struct token_slot {
    int32_t id; /* EMPTY_SLOT when free */
    uint32_t tag;
} token_slot;

typedef struct merge_slot {
    uint64_t pair; /* left id << 32 | right id; EMPTY_MERGE when free */
    int32_t rank;
    int32_t merged;
} merge_slot;

struct qr_tokenizer {
    size_t n_tokens;
    char *texts;       /* every token's text, NUL-terminated, back to back */
    size_t *text_off;  /* n_tokens + 1 offsets into texts */
    int32_t *types;
    token_slot *slots; /* text -> id, open addressing */
    size_t slot_mask;
    merge_slot *merges;
    size_t merge_mask;
    int32_t byte_id[256];
    pcre2_code *re;
};

/* ---- hashing ------------------------------------------------------------------------------ */

static uint64_t hash_bytes(const char *s, size_t n) {
    uint64_t h = 0xcbf29ce484222325ull; /* FNV-1a: tokens are short */
    for (size_t i = 0; i < n; i++) {
        h ^= (unsigned char)s[i];
        h *= 0x100000001b3ull;
    }
    return h ^ (h >> 29);
}

static uint64_t hash_pair(uint64_t pair) {
    pair *= 0x9E3779B97F4A7C15ull;
    return pair ^ (pair >> 32);
}

/* Power of two with a load factor of at most 3/4: the tables stay small
 * enough to keep probing in cache (the merge table is 4 MB for Qwen). */
static size_t table_size(size_t n) {
    size_t size = 16;
    while (size / 4 * 3 < n)
        size *= 2;
    return size;
}

static size_t token_len(const qr_tokenizer *tok, int32_t id) {
    return tok->text_off[id + 1] - tok->text_off[id] - 1;
}

static int32_t lookup(const qr_tokenizer *tok, const char *s, size_t n) {
    uint64_t h = hash_bytes(s, n);
    uint32_t tag = (uint32_t)(h >> 32);
    size_t i = (size_t)h & tok->slot_mask;
    for (;;) {
        const token_slot *slot = &tok->slots[i];
        if (slot->id == EMPTY_SLOT)
            return -1;
        if (slot->tag == tag && token_len(tok, slot->id) == n &&
            memcmp(tok->texts + tok->text_off[slot->id], s, n) == 0)
            return slot->id;
        i = (i + 1) & tok->slot_mask;
    }
}

static const merge_slot *find_merge(const qr_tokenizer *tok, int32_t left, int32_t right) {
    uint64_t pair = (uint64_t)(uint32_t)left << 32 | (uint32_t)right;
    size_t i = (size_t)hash_pair(pair) & tok->merge_mask;
    for (;;) {
        const merge_slot *m = &tok->merges[i];
        if (m->pair == pair)
            return m;
        if (m->pair == EMPTY_MERGE)
            return NULL;
        i = (i + 1) & tok->merge_mask;
    }
}

/* ---- building ----------------------------------------------------------------------------- */

/* GPT-2's bytes_to_unicode: printable Latin-1 bytes stand for themselves, the
 * other 68 bytes take U+0100.. in byte order. Writes UTF-8, returns length. */
static size_t byte_level_char(unsigned b, char out[2]) {
    unsigned cp;
    if ((b >= 0x21 && b <= 0x7E) || (b >= 0xA1 && b <= 0xAC) || (b >= 0xAE && b <= 0xFF)) {
        cp = b;
    } else {
        unsigned k = 0;
        for (unsigned x = 0; x < b; x++)
            if (!((x >= 0x21 && x <= 0x7E) || (x >= 0xA1 && x <= 0xAC) || (x >= 0xAE && x <= 0xFF)))
                k++;
        cp = 256 + k;
    }
    if (cp < 0x80) {
        out[0] = (char)cp;
        return 1;
    }
    out[0] = (char)(0xC0 | (cp >> 6));
    out[1] = (char)(0x80 | (cp & 0x3F));
    return 2;
}

static int build_texts(qr_tokenizer *tok, const qr_vocab_spec *spec, qrank_error *err) {
    size_t total = 0;
    for (size_t i = 0; i < spec->n_tokens; i++) {
        const qr_str *t = &spec->tokens[i];
        if (t->len == 0 || !t->ptr)
            return qr_error(err, QRANK_E_FORMAT, "token %zu is empty", i);
        if (t->len > SIZE_MAX - 1 - total)
            return qr_error(err, QRANK_E_FORMAT, "token texts are too large");
        total += t->len + 1;
    }
    tok->texts = malloc(total);
    tok->text_off = malloc((spec->n_tokens + 1) * sizeof *tok->text_off);
    tok->types = malloc(spec->n_tokens * sizeof *tok->types);
    if (!tok->texts || !tok->text_off || !tok->types)
        return qr_error(err, QRANK_E_NO_MEMORY, "out of memory for %zu tokens", spec->n_tokens);
    size_t off = 0;
    for (size_t i = 0; i < spec->n_tokens; i++) {
        const qr_str *t = &spec->tokens[i];
        tok->text_off[i] = off;
        memcpy(tok->texts + off, t->ptr, t->len);
        tok->texts[off + t->len] = '\0';
        off += t->len + 1;
        int32_t type = spec->types ? spec->types[i] : 1;
        if (type < 0 || type > TOKEN_TYPE_MAX)
            return qr_error(err, QRANK_E_FORMAT, "token %zu has unknown type %d", i, (int)type);
        tok->types[i] = type;
    }
    tok->text_off[spec->n_tokens] = off;
    return QRANK_OK;
}

static int build_lookup(qr_tokenizer *tok, qrank_error *err) {
    size_t size = table_size(tok->n_tokens);
    tok->slots = malloc(size * sizeof *tok->slots);
    if (!tok->slots)
        return qr_error(err, QRANK_E_NO_MEMORY, "out of memory for the token table");
    for (size_t i = 0; i < size; i++)
        tok->slots[i].id = EMPTY_SLOT;
    tok->slot_mask = size - 1;
    for (size_t id = 0; id < tok->n_tokens; id++) {
        const char *s = tok->texts + tok->text_off[id];
        size_t n = token_len(tok, (int32_t)id);
        uint64_t h = hash_bytes(s, n);
        size_t i = (size_t)h & tok->slot_mask;
        while (tok->slots[i].id != EMPTY_SLOT) {
            int32_t other = tok->slots[i].id;
            if (token_len(tok, other) == n && memcmp(tok->texts + tok->text_off[other], s, n) == 0)
                return qr_error(err, QRANK_E_FORMAT, "tokens %d and %zu have the same text \"%.*s\"",
                                (int)other, id, (int)(n > 64 ? 64 : n), s);
            i = (i + 1) & tok->slot_mask;
        }
        tok->slots[i] = (token_slot){(int32_t)id, (uint32_t)(h >> 32)};
    }
    for (unsigned b = 0; b < 256; b++) {
        char c[2];
        size_t n = byte_level_char(b, c);
        int32_t id = lookup(tok, c, n);
        if (id < 0 || tok->types[id] == TOKEN_TYPE_CONTROL)
            return qr_error(err, QRANK_E_FORMAT,
                            "the vocabulary has no byte-level token for byte 0x%02X (\"%.*s\")", b,
                            (int)n, c);
        tok->byte_id[b] = id;
    }
    return QRANK_OK;
}

static int merge_token(const qr_tokenizer *tok, size_t rank, const char *s, size_t n,
                       int32_t *id, qrank_error *err) {
    *id = lookup(tok, s, n);
    if (*id < 0)
        return qr_error(err, QRANK_E_FORMAT, "merge %zu: \"%.*s\" is not in the vocabulary", rank,
                        (int)(n > 64 ? 64 : n), s);
    if (tok->types[*id] == TOKEN_TYPE_CONTROL)
        return qr_error(err, QRANK_E_FORMAT, "merge %zu: \"%.*s\" is a control token", rank,
                        (int)(n > 64 ? 64 : n), s);
    return QRANK_OK;
}

static int build_merges(qr_tokenizer *tok, const qr_vocab_spec *spec, qrank_error *err) {
    size_t size = table_size(spec->n_merges);
    tok->merges = malloc(size * sizeof *tok->merges);
    if (!tok->merges)
        return qr_error(err, QRANK_E_NO_MEMORY, "out of memory for %zu merges", spec->n_merges);
    for (size_t i = 0; i < size; i++)
        tok->merges[i].pair = EMPTY_MERGE;
    tok->merge_mask = size - 1;
    char *joined = NULL;
    size_t joined_cap = 0;
    int rc = QRANK_OK;
    for (size_t r = 0; r < spec->n_merges && rc == QRANK_OK; r++) {
        const qr_str *m = &spec->merges[r];
        const char *sp = m->ptr ? memchr(m->ptr, ' ', m->len) : NULL;
        if (!sp || sp == m->ptr || sp == m->ptr + m->len - 1 ||
            memchr(sp + 1, ' ', m->len - (size_t)(sp + 1 - m->ptr))) {
            rc = qr_error(err, QRANK_E_FORMAT, "merge %zu (\"%.*s\") is not two tokens \"a b\"", r,
                          (int)(m->len > 64 ? 64 : m->len), m->ptr ? m->ptr : "");
            break;
        }
        size_t left_len = (size_t)(sp - m->ptr), right_len = m->len - left_len - 1;
        int32_t left, right, merged;
        rc = merge_token(tok, r, m->ptr, left_len, &left, err);
        if (!rc)
            rc = merge_token(tok, r, sp + 1, right_len, &right, err);
        if (rc)
            break;
        if (joined_cap < left_len + right_len) {
            free(joined);
            joined_cap = (left_len + right_len) * 2;
            joined = malloc(joined_cap);
            if (!joined) {
                rc = qr_error(err, QRANK_E_NO_MEMORY, "out of memory reading merges");
                break;
            }
        }
        memcpy(joined, m->ptr, left_len);
        memcpy(joined + left_len, sp + 1, right_len);
        rc = merge_token(tok, r, joined, left_len + right_len, &merged, err);
        if (rc)
            break;
        uint64_t pair = (uint64_t)(uint32_t)left << 32 | (uint32_t)right;
        size_t i = (size_t)hash_pair(pair) & tok->merge_mask;
        while (tok->merges[i].pair != EMPTY_MERGE && tok->merges[i].pair != pair)
            i = (i + 1) & tok->merge_mask;
        tok->merges[i].pair = pair;
        tok->merges[i].rank = (int32_t)r;
        tok->merges[i].merged = merged;
    }
    free(joined);
    return rc;
}

static int build_regex(qr_tokenizer *tok, const char *onig, qrank_error *err) {
    char *pattern;
    int rc = qr_regex_onig_to_pcre2(onig, strlen(onig), &pattern, err);
    if (rc)
        return rc;
    int code;
    PCRE2_SIZE at;
    tok->re = pcre2_compile((PCRE2_SPTR)pattern, PCRE2_ZERO_TERMINATED,
                            PCRE2_UTF | PCRE2_UCP | PCRE2_NEVER_BACKSLASH_C, &code, &at, NULL);
    free(pattern);
    if (!tok->re) {
        PCRE2_UCHAR msg[160];
        pcre2_get_error_message(code, msg, sizeof msg);
        return qr_error(err, QRANK_E_FORMAT, "pre-tokenizer regex does not compile: %s", (char *)msg);
    }
    /* Without JIT (an unsupported CPU) the interpreter gives the same matches, slower. */
    (void)pcre2_jit_compile(tok->re, PCRE2_JIT_COMPLETE);
    return QRANK_OK;
}

int qr_tokenizer_create(const qr_vocab_spec *spec, qr_tokenizer **out, qrank_error *err) {
    if (!out)
        return qr_error(err, QRANK_E_INVALID_ARGUMENT, "qr_tokenizer_create: out is NULL");
    *out = NULL;
    if (!spec || (spec->n_tokens && !spec->tokens) || (spec->n_merges && !spec->merges))
        return qr_error(err, QRANK_E_INVALID_ARGUMENT, "qr_tokenizer_create: incomplete spec");
    if (spec->n_tokens < 256 || spec->n_tokens > (size_t)INT32_MAX - 1)
        return qr_error(err, QRANK_E_FORMAT, "a byte-level vocabulary needs 256..2^31 tokens, not %zu",
                        spec->n_tokens);
    if (spec->n_merges > (size_t)INT32_MAX)
        return qr_error(err, QRANK_E_FORMAT, "too many merges (%zu)", spec->n_merges);
    qr_tokenizer *tok = calloc(1, sizeof *tok);
    if (!tok)
        return qr_error(err, QRANK_E_NO_MEMORY, "out of memory for the tokenizer");
    tok->n_tokens = spec->n_tokens;
    int rc = build_texts(tok, spec, err);
    if (!rc)
        rc = build_lookup(tok, err);
    if (!rc)
        rc = build_merges(tok, spec, err);
    if (!rc)
        rc = build_regex(tok, spec->pre_regex ? spec->pre_regex : QR_QWEN2_PRETOKENIZER_PATTERN, err);
    if (rc) {
        qr_tokenizer_free(tok);
        return rc;
    }
    *out = tok;
    return QRANK_OK;
}

void qr_tokenizer_free(qr_tokenizer *tok) {
    if (!tok)
        return;
    pcre2_code_free(tok->re);
    free(tok->texts);
    free(tok->text_off);
    free(tok->types);
    free(tok->slots);
    free(tok->merges);
    free(tok);
}

size_t qr_tokenizer_n_tokens(const qr_tokenizer *tok) { return tok->n_tokens; }

int32_t qr_tokenizer_find(const qr_tokenizer *tok, const char *text) {
    if (!text || !*text)
        return -1;
    return lookup(tok, text, strlen(text));
}

const char *qr_tokenizer_token(const qr_tokenizer *tok, int32_t id) {
    if (id < 0 || (size_t)id >= tok->n_tokens)
        return NULL;
    return tok->texts + tok->text_off[id];
}

/* ---- BPE ---------------------------------------------------------------------------------- */

typedef struct symbol {
    int32_t id; /* -1 once merged into its left neighbour */
    int32_t prev, next;
} symbol;

typedef struct candidate {
    uint64_t order; /* rank << 32 | position of the left symbol: lowest first */
    int32_t left, right, merged;
} candidate;

typedef struct scratch {
    symbol *syms;
    candidate *heap;
    size_t cap;  /* symbols; the heap holds 3 * cap */
    size_t heap_n;
} scratch;

static int scratch_reserve(scratch *sc, size_t n, qrank_error *err) {
    if (n <= sc->cap)
        return QRANK_OK;
    size_t cap = sc->cap ? sc->cap : 64;
    while (cap < n)
        cap *= 2;
    if (cap > SIZE_MAX / (3 * sizeof(candidate)))
        return qr_error(err, QRANK_E_NO_MEMORY, "piece of %zu bytes is too large", n);
    symbol *s = realloc(sc->syms, cap * sizeof *s);
    if (!s)
        return qr_error(err, QRANK_E_NO_MEMORY, "out of memory tokenizing");
    sc->syms = s;
    candidate *h = realloc(sc->heap, 3 * cap * sizeof *h);
    if (!h)
        return qr_error(err, QRANK_E_NO_MEMORY, "out of memory tokenizing");
    sc->heap = h;
    sc->cap = cap;
    return QRANK_OK;
}

static void heap_push(scratch *sc, candidate c) {
    size_t i = sc->heap_n++;
    while (i > 0) {
        size_t parent = (i - 1) / 2;
        if (sc->heap[parent].order <= c.order)
            break;
        sc->heap[i] = sc->heap[parent];
        i = parent;
    }
    sc->heap[i] = c;
}

static candidate heap_pop(scratch *sc) {
    candidate top = sc->heap[0];
    candidate last = sc->heap[--sc->heap_n];
    size_t i = 0, n = sc->heap_n;
    for (;;) {
        size_t child = 2 * i + 1;
        if (child >= n)
            break;
        if (child + 1 < n && sc->heap[child + 1].order < sc->heap[child].order)
            child++;
        if (last.order <= sc->heap[child].order)
            break;
        sc->heap[i] = sc->heap[child];
        i = child;
    }
    if (n)
        sc->heap[i] = last;
    return top;
}

static void push_pair(const qr_tokenizer *tok, scratch *sc, int32_t pos) {
    int32_t next = sc->syms[pos].next;
    if (next < 0)
        return;
    const merge_slot *m = find_merge(tok, sc->syms[pos].id, sc->syms[next].id);
    if (!m)
        return;
    candidate c = {(uint64_t)(uint32_t)m->rank << 32 | (uint32_t)pos, sc->syms[pos].id,
                   sc->syms[next].id, m->merged};
    heap_push(sc, c);
}

typedef struct id_out {
    int32_t **ids;
    size_t *n, *cap;
} id_out;

static int reserve_ids(id_out *o, size_t more, qrank_error *err) {
    if (*o->cap - *o->n >= more)
        return QRANK_OK;
    size_t cap = *o->cap ? *o->cap : 64;
    while (cap - *o->n < more) {
        if (cap > SIZE_MAX / 2 / sizeof(int32_t))
            return qr_error(err, QRANK_E_NO_MEMORY, "too many token ids");
        cap *= 2;
    }
    int32_t *p = realloc(*o->ids, cap * sizeof *p);
    if (!p)
        return qr_error(err, QRANK_E_NO_MEMORY, "out of memory for token ids");
    *o->ids = p;
    *o->cap = cap;
    return QRANK_OK;
}

static int bpe_piece(const qr_tokenizer *tok, const unsigned char *piece, size_t n, scratch *sc,
                     id_out *o, qrank_error *err) {
    int rc = reserve_ids(o, n, err);
    if (rc)
        return rc;
    if (n == 1) {
        (*o->ids)[(*o->n)++] = tok->byte_id[piece[0]];
        return QRANK_OK;
    }
    if (n > (size_t)INT32_MAX)
        return qr_error(err, QRANK_E_TOO_LONG, "a piece of %zu bytes is too long", n);
    rc = scratch_reserve(sc, n, err);
    if (rc)
        return rc;
    symbol *syms = sc->syms;
    for (size_t i = 0; i < n; i++) {
        syms[i].id = tok->byte_id[piece[i]];
        syms[i].prev = (int32_t)i - 1;
        syms[i].next = i + 1 < n ? (int32_t)i + 1 : -1;
    }
    sc->heap_n = 0;
    for (size_t i = 0; i + 1 < n; i++)
        push_pair(tok, sc, (int32_t)i);
    while (sc->heap_n) {
        candidate c = heap_pop(sc);
        int32_t pos = (int32_t)(uint32_t)c.order;
        int32_t next = syms[pos].next;
        if (syms[pos].id != c.left || next < 0 || syms[next].id != c.right)
            continue; /* stale: a neighbour merged since this pair was queued */
        syms[pos].id = c.merged;
        syms[pos].next = syms[next].next;
        if (syms[pos].next >= 0)
            syms[syms[pos].next].prev = pos;
        syms[next].id = -1;
        if (syms[pos].prev >= 0)
            push_pair(tok, sc, syms[pos].prev);
        push_pair(tok, sc, pos);
    }
    for (int32_t i = 0; i >= 0; i = syms[i].next)
        (*o->ids)[(*o->n)++] = syms[i].id;
    return QRANK_OK;
}

/* ---- the pipeline ------------------------------------------------------------------------- */

static int split_and_bpe(const qr_tokenizer *tok, const char *s, size_t n, id_out *o,
                         qrank_error *err) {
    pcre2_match_data *md = pcre2_match_data_create_from_pattern(tok->re, NULL);
    if (!md)
        return qr_error(err, QRANK_E_NO_MEMORY, "out of memory for regex match data");
    pcre2_match_context *mctx = NULL;
    pcre2_jit_stack *jit_stack = NULL;
    scratch sc = {0};
    const unsigned char *u = (const unsigned char *)s;
    size_t done = 0, search = 0;
    int rc = QRANK_OK;
    while (search < n) {
        int m = pcre2_match(tok->re, (PCRE2_SPTR)s, n, search, PCRE2_NO_UTF_CHECK, md, mctx);
        if (m == PCRE2_ERROR_JIT_STACKLIMIT && !jit_stack) {
            /* Only a custom pattern with deep backtracking gets here: give it a
             * larger stack of its own and try again. */
            mctx = pcre2_match_context_create(NULL);
            jit_stack = pcre2_jit_stack_create(64 * 1024, 64 * 1024 * 1024, NULL);
            if (!mctx || !jit_stack) {
                rc = qr_error(err, QRANK_E_NO_MEMORY, "out of memory for a regex stack");
                break;
            }
            pcre2_jit_stack_assign(mctx, NULL, jit_stack);
            continue;
        }
        if (m == PCRE2_ERROR_NOMATCH)
            break;
        if (m < 0) {
            PCRE2_UCHAR msg[160];
            pcre2_get_error_message(m, msg, sizeof msg);
            rc = qr_error(err, QRANK_E_TOO_LONG, "pre-tokenizer regex failed at byte %zu: %s",
                          search, (char *)msg);
            break;
        }
        const PCRE2_SIZE *ov = pcre2_get_ovector_pointer(md);
        size_t ms = ov[0], me = ov[1];
        if (ms < search || me < ms || me > n) {
            rc = qr_error(err, QRANK_E_FORMAT, "pre-tokenizer regex gave a match outside the text");
            break;
        }
        if (ms > done) {
            rc = bpe_piece(tok, u + done, ms - done, &sc, o, err);
            if (rc)
                break;
            done = ms;
        }
        if (me == ms) {
            /* An empty match splits the text here but is no piece; search on
             * from the next character, as HF's find_iter does. */
            size_t bad, step = ms < n ? qr_utf8_sequence(u + ms, n - ms, &bad) : 1;
            search = ms + (step ? step : 1);
            continue;
        }
        rc = bpe_piece(tok, u + ms, me - ms, &sc, o, err);
        if (rc)
            break;
        done = search = me;
    }
    if (rc == QRANK_OK && done < n)
        rc = bpe_piece(tok, u + done, n - done, &sc, o, err);
    free(sc.syms);
    free(sc.heap);
    pcre2_match_data_free(md);
    pcre2_match_context_free(mctx);
    pcre2_jit_stack_free(jit_stack);
    return rc;
}

int qr_tokenize(const qr_tokenizer *tok, const char *text, size_t len, int32_t **ids, size_t *n,
                size_t *cap, qrank_error *err) {
    if (!tok || !ids || !n || !cap || (!text && len))
        return qr_error(err, QRANK_E_INVALID_ARGUMENT, "qr_tokenize: NULL argument");
    if (len == 0)
        return QRANK_OK;
    size_t n0 = *n;
    id_out o = {ids, n, cap};
    char *repaired = NULL, *normal = NULL;
    const char *s = text;
    size_t slen = len;
    int rc = QRANK_OK;
    if (qr_utf8_valid_prefix(text, len) != len) {
        slen = qr_utf8_repaired_len(text, len);
        repaired = malloc(slen);
        if (!repaired)
            return qr_error(err, QRANK_E_NO_MEMORY, "out of memory repairing %zu bytes", len);
        qr_utf8_repair(text, len, repaired);
        s = repaired;
    }
    size_t nlen;
    rc = qr_nfc(s, slen, &normal, &nlen, err);
    if (rc)
        goto done;
    if (normal) {
        s = normal;
        slen = nlen;
    }
    rc = split_and_bpe(tok, s, slen, &o, err);
done:
    if (rc)
        *n = n0;
    free(repaired);
    free(normal);
    return rc;
}
