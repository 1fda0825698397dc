/* tokenizer_regex.c - tokenizer.json's pre-tokenizer regex, carried from
 * Oniguruma (what the Rust tokenizers crate compiles) to PCRE2.
 *
 * The two engines agree on most syntax but not on a few meanings that matter
 * for token ids, so those are rewritten into explicit forms rather than left
 * to either engine's defaults. The choices follow the reference tokenizer
 * (npm @huggingface/tokenizers, which makes the same translation for
 * JavaScript) so that our ids equal its ids:
 *   - \s, \S: Unicode White_Space. PCRE2's UCP \s also takes U+180E.
 *   - (?i:...): ASCII-only case folding. PCRE2 would let 's' match U+017F
 *     and 'k' U+212A, which changes how "'ſ" splits.
 *   - \d = \p{Nd}; \w = Alphabetic, marks, Nd, Pc (+ ²³¹¼½¾ outside classes);
 *     \b, \B from that \w; \v is the VT character (in PCRE2 it is a class);
 *     \h is a hex digit; ^ and $ are line anchors for \n only.
 *   - inside classes every single character is written as \x{...}, so no
 *     character can take a PCRE2-only meaning there.
 * Anything we cannot carry faithfully (nested classes, &&, flag groups other
 * than (?i:, backreferences, \G, \K, ...) is refused with
 * QRANK_E_UNSUPPORTED: a tokenizer that splits differently from the
 * reference is worse than one that does not load. */
#include "tokenizer_regex.h"

#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "error.h"
#include "utf8_repair.h"

#define WORD_IN_CLASS "\\p{Alphabetic}\\p{M}\\p{Nd}\\p{Pc}"
#define WORD_CLASS "[" WORD_IN_CLASS "\\x{B2}\\x{B3}\\x{B9}\\x{BC}-\\x{BE}]"
#define NON_WORD_CLASS "[^" WORD_IN_CLASS "\\x{B2}\\x{B3}\\x{B9}\\x{BC}-\\x{BE}]"
#define MAX_GROUP_DEPTH 256

typedef struct out_buf {
    char *p;
    size_t n, cap;
    int oom;
} out_buf;

static void put(out_buf *b, const char *s, size_t n) {
    if (b->oom)
        return;
    if (b->cap - b->n <= n) {
        size_t cap = b->cap ? b->cap : 256;
        while (cap - b->n <= n) {
            if (cap > SIZE_MAX / 2) {
                b->oom = 1;
                return;
            }
            cap *= 2;
        }
        char *np = realloc(b->p, cap);
        if (!np) {
            b->oom = 1;
            return;
        }
        b->p = np;
        b->cap = cap;
    }
    memcpy(b->p + b->n, s, n);
    b->n += n;
    b->p[b->n] = '\0';
}

static void puts_(out_buf *b, const char *s) { put(b, s, strlen(s)); }

static void put_cp(out_buf *b, uint32_t cp) {
    char tmp[16];
    int k = snprintf(tmp, sizeof tmp, "\\x{%X}", (unsigned)cp);
    put(b, tmp, (size_t)k);
}

static int is_ascii_letter(uint32_t c) { return (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z'); }
static uint32_t other_case(uint32_t c) { return c ^ 0x20; }
static int is_hex(char c) {
    return (c >= '0' && c <= '9') || (c >= 'a' && c <= 'f') || (c >= 'A' && c <= 'F');
}

/* Decodes one UTF-8 character (the pattern must be well-formed UTF-8). */
static int decode_char(const char *s, size_t n, uint32_t *cp, size_t *used) {
    size_t bad;
    size_t k = qr_utf8_sequence((const unsigned char *)s, n, &bad);
    if (!k)
        return 0;
    const unsigned char *u = (const unsigned char *)s;
    uint32_t c = k == 1 ? u[0] : k == 2 ? (u[0] & 0x1Fu) : k == 3 ? (u[0] & 0x0Fu) : (u[0] & 0x07u);
    for (size_t i = 1; i < k; i++)
        c = (c << 6) | (u[i] & 0x3Fu);
    *cp = c;
    *used = k;
    return 1;
}

/* Length of a brace quantifier {n}, {n,}, {n,m}, {,m} at s, or 0 when the
 * brace is a literal (as both engines read it then). */
static size_t quantifier_len(const char *s, size_t n) {
    size_t i = 1, lo = 0, hi = 0;
    while (i < n && s[i] >= '0' && s[i] <= '9') {
        i++;
        lo++;
    }
    if (i < n && s[i] == ',') {
        i++;
        while (i < n && s[i] >= '0' && s[i] <= '9') {
            i++;
            hi++;
        }
        if (lo == 0 && hi == 0)
            return 0;
    } else if (lo == 0) {
        return 0;
    }
    if (i >= n || s[i] != '}')
        return 0;
    return i + 1;
}

typedef struct parser {
    const char *s;
    size_t n, i;
    out_buf out;
    qrank_error *err;
} parser;

static int unsupported(parser *p, const char *what) {
    return qr_error(p->err, QRANK_E_UNSUPPORTED,
                    "pre-tokenizer regex: %s at offset %zu is not supported", what, p->i);
}

/* \xHH, \x{H..}, \uHHHH: the code point, with p->i moved past it. p->i is at
 * the letter after the backslash. */
static int parse_hex_escape(parser *p, uint32_t *cp) {
    char kind = p->s[p->i];
    size_t j = p->i + 1;
    uint32_t v = 0;
    size_t digits = 0;
    if (kind == 'x' && j < p->n && p->s[j] == '{') {
        j++;
        while (j < p->n && is_hex(p->s[j]) && digits < 8) {
            v = v * 16 + (uint32_t)(p->s[j] <= '9' ? p->s[j] - '0' : (p->s[j] | 0x20) - 'a' + 10);
            j++;
            digits++;
        }
        if (j >= p->n || p->s[j] != '}' || digits == 0)
            return unsupported(p, "malformed \\x{...}");
        j++;
    } else {
        size_t want = kind == 'x' ? 2 : 4;
        while (j < p->n && digits < want && is_hex(p->s[j])) {
            v = v * 16 + (uint32_t)(p->s[j] <= '9' ? p->s[j] - '0' : (p->s[j] | 0x20) - 'a' + 10);
            j++;
            digits++;
        }
        if (digits == 0 || (kind == 'u' && digits != 4))
            return unsupported(p, "malformed hex escape");
    }
    if (v > 0x10FFFF || (v >= 0xD800 && v <= 0xDFFF))
        return unsupported(p, "escape of a non-character code point");
    *cp = v;
    p->i = j;
    return QRANK_OK;
}

/* Escapes that stand for one character in both contexts. */
static int simple_char_escape(char c, uint32_t *cp) {
    switch (c) {
    case 'n': *cp = '\n'; return 1;
    case 'r': *cp = '\r'; return 1;
    case 't': *cp = '\t'; return 1;
    case 'f': *cp = '\f'; return 1;
    case 'v': *cp = 0x0B; return 1;
    case 'a': *cp = 0x07; return 1;
    case 'e': *cp = 0x1B; return 1;
    default: return 0;
    }
}

/* \p{...} / \P{...}: copied; the names (general categories, scripts,
 * binary properties) mean the same in both engines. */
static int copy_property(parser *p) {
    size_t j = p->i + 1; /* after p/P */
    if (j >= p->n || p->s[j] != '{')
        return unsupported(p, "\\p without braces");
    size_t k = j + 1;
    while (k < p->n && p->s[k] != '}') {
        char c = p->s[k];
        if (!((c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') ||
              c == '_' || c == '^' || c == '=' || c == ' ' || c == '-'))
            return unsupported(p, "unexpected character in \\p{...}");
        k++;
    }
    if (k >= p->n)
        return unsupported(p, "unterminated \\p{...}");
    put(&p->out, "\\", 1);
    put(&p->out, p->s + p->i, k + 1 - p->i);
    p->i = k + 1;
    return QRANK_OK;
}

/* A code point outside classes: itself, or [xX] while ASCII folding. */
static void emit_literal_cp(parser *p, uint32_t cp, int fold) {
    if (fold && is_ascii_letter(cp)) {
        char tmp[5] = {'[', (char)cp, (char)other_case(cp), ']', 0};
        puts_(&p->out, tmp);
    } else {
        put_cp(&p->out, cp);
    }
}

static int parse_escape_outside(parser *p, int fold) {
    p->i++; /* the backslash */
    if (p->i >= p->n)
        return unsupported(p, "trailing backslash");
    char c = p->s[p->i];
    uint32_t cp;
    const char *rep = NULL;
    switch (c) {
    case 's': rep = "\\p{White_Space}"; break;
    case 'S': rep = "\\P{White_Space}"; break;
    case 'd': rep = "\\p{Nd}"; break;
    case 'D': rep = "\\P{Nd}"; break;
    case 'w': rep = WORD_CLASS; break;
    case 'W': rep = NON_WORD_CLASS; break;
    case 'h': rep = "[0-9A-Fa-f]"; break;
    case 'H': rep = "[^0-9A-Fa-f]"; break;
    case 'b': rep = "(?:(?<!" WORD_CLASS ")(?=" WORD_CLASS ")|(?<=" WORD_CLASS ")(?!" WORD_CLASS "))"; break;
    case 'B': rep = "(?:(?<!" WORD_CLASS ")(?!" WORD_CLASS ")|(?<=" WORD_CLASS ")(?=" WORD_CLASS "))"; break;
    case 'A': rep = "\\A"; break;
    case 'z': rep = "\\z"; break;
    case 'Z': rep = "(?=\\n?\\z)"; break;
    case 'p':
    case 'P': return copy_property(p);
    case 'x':
    case 'u': {
        int rc = parse_hex_escape(p, &cp);
        if (rc)
            return rc;
        emit_literal_cp(p, cp, fold);
        return QRANK_OK;
    }
    default: break;
    }
    if (rep) {
        puts_(&p->out, rep);
        p->i++;
        return QRANK_OK;
    }
    if (simple_char_escape(c, &cp)) {
        put_cp(&p->out, cp);
        p->i++;
        return QRANK_OK;
    }
    if ((unsigned char)c >= 0x80) { /* an escaped non-ASCII character is itself */
        size_t used;
        if (!decode_char(p->s + p->i, p->n - p->i, &cp, &used))
            return unsupported(p, "invalid UTF-8");
        put_cp(&p->out, cp);
        p->i += used;
        return QRANK_OK;
    }
    if ((c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9'))
        return unsupported(p, "this escape");
    put_cp(&p->out, (uint32_t)(unsigned char)c); /* escaped punctuation */
    p->i++;
    return QRANK_OK;
}

/* One member of a class that stands for a single code point: returns 1 and
 * sets *cp, 0 when the member is a set (emitted already), or an error < 0
 * after filling err. */
static int class_atom(parser *p, uint32_t *cp, int *rc) {
    *rc = QRANK_OK;
    char c = p->s[p->i];
    size_t used;
    if (c != '\\') {
        if (!decode_char(p->s + p->i, p->n - p->i, cp, &used)) {
            *rc = unsupported(p, "invalid UTF-8");
            return -1;
        }
        p->i += used;
        return 1;
    }
    p->i++;
    if (p->i >= p->n) {
        *rc = unsupported(p, "trailing backslash");
        return -1;
    }
    c = p->s[p->i];
    const char *rep = NULL;
    switch (c) {
    case 's': rep = "\\p{White_Space}"; break;
    case 'S': rep = "\\P{White_Space}"; break;
    case 'd': rep = "\\p{Nd}"; break;
    case 'D': rep = "\\P{Nd}"; break;
    case 'w': rep = WORD_IN_CLASS; break;
    case 'h': rep = "0-9A-Fa-f"; break;
    case 'p':
    case 'P':
        *rc = copy_property(p);
        return *rc ? -1 : 0;
    case 'x':
    case 'u':
        *rc = parse_hex_escape(p, cp);
        return *rc ? -1 : 1;
    default: break;
    }
    if (rep) {
        puts_(&p->out, rep);
        p->i++;
        return 0;
    }
    if (simple_char_escape(c, cp)) {
        p->i++;
        return 1;
    }
    if ((unsigned char)c >= 0x80) {
        if (!decode_char(p->s + p->i, p->n - p->i, cp, &used)) {
            *rc = unsupported(p, "invalid UTF-8");
            return -1;
        }
        p->i += used;
        return 1;
    }
    if ((c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9')) {
        *rc = unsupported(p, "this escape inside a class");
        return -1;
    }
    *cp = (uint32_t)(unsigned char)c;
    p->i++;
    return 1;
}

/* While ASCII folding, a class also takes the other case of every ASCII
 * letter in [lo, hi]. */
static void emit_folded_range(parser *p, uint32_t lo, uint32_t hi) {
    static const uint32_t starts[2] = {'a', 'A'};
    for (int k = 0; k < 2; k++) {
        uint32_t a = lo > starts[k] ? lo : starts[k];
        uint32_t z = hi < starts[k] + 25 ? hi : starts[k] + 25;
        if (a <= z) {
            put_cp(&p->out, other_case(a));
            put(&p->out, "-", 1);
            put_cp(&p->out, other_case(z));
        }
    }
}

static int parse_class(parser *p, int fold) {
    p->i++; /* '[' */
    put(&p->out, "[", 1);
    if (p->i < p->n && p->s[p->i] == '^') {
        put(&p->out, "^", 1);
        p->i++;
    }
    int first = 1;
    for (;;) {
        if (p->i >= p->n)
            return unsupported(p, "unterminated character class");
        char c = p->s[p->i];
        if (c == ']' && !first) {
            put(&p->out, "]", 1);
            p->i++;
            return QRANK_OK;
        }
        first = 0;
        if (c == '[')
            return unsupported(p, "nested class or POSIX bracket");
        if (c == '&' && p->i + 1 < p->n && p->s[p->i + 1] == '&')
            return unsupported(p, "class intersection &&");
        uint32_t lo, hi;
        int rc;
        int kind = class_atom(p, &lo, &rc);
        if (kind < 0)
            return rc;
        if (kind == 0)
            continue;
        hi = lo;
        if (p->i + 1 < p->n && p->s[p->i] == '-' && p->s[p->i + 1] != ']') {
            p->i++;
            kind = class_atom(p, &hi, &rc);
            if (kind < 0)
                return rc;
            if (kind == 0)
                return unsupported(p, "range ending in a set");
            if (hi < lo)
                return unsupported(p, "reversed range");
        }
        put_cp(&p->out, lo);
        if (hi != lo) {
            put(&p->out, "-", 1);
            put_cp(&p->out, hi);
        }
        if (fold)
            emit_folded_range(p, lo, hi);
    }
}

int qr_regex_onig_to_pcre2(const char *src, size_t len, char **out, qrank_error *err) {
    *out = NULL;
    if (qr_utf8_valid_prefix(src, len) != len)
        return qr_error(err, QRANK_E_FORMAT, "pre-tokenizer regex is not valid UTF-8");
    parser p = {.s = src, .n = len, .i = 0, .err = err};
    unsigned char fold_stack[MAX_GROUP_DEPTH];
    size_t depth = 0;
    int fold = 0, rc = QRANK_OK;
    size_t q;
    put(&p.out, "", 0);
    while (p.i < p.n && rc == QRANK_OK) {
        char c = p.s[p.i];
        if (c == '\\') {
            rc = parse_escape_outside(&p, fold);
        } else if (c == '[') {
            rc = parse_class(&p, fold);
        } else if (c == '(') {
            if (depth == MAX_GROUP_DEPTH) {
                rc = unsupported(&p, "group nesting this deep");
                break;
            }
            fold_stack[depth++] = (unsigned char)fold;
            const char *g = p.s + p.i;
            size_t left = p.n - p.i;
            static const char *const plain[] = {"(?:", "(?=", "(?!", "(?<=", "(?<!", "(?>"};
            size_t copied = 0;
            if (left >= 4 && memcmp(g, "(?i:", 4) == 0) {
                puts_(&p.out, "(?:");
                fold = 1;
                p.i += 4;
                continue;
            }
            for (size_t k = 0; k < sizeof plain / sizeof plain[0]; k++) {
                size_t kl = strlen(plain[k]);
                if (left >= kl && memcmp(g, plain[k], kl) == 0) {
                    copied = kl;
                    break;
                }
            }
            if (!copied && left >= 2 && g[1] == '?') {
                rc = unsupported(&p, "this group or flag syntax");
                break;
            }
            if (!copied)
                copied = 1;
            put(&p.out, g, copied);
            p.i += copied;
        } else if (c == ')') {
            if (depth == 0) {
                rc = unsupported(&p, "unbalanced ')'");
                break;
            }
            fold = fold_stack[--depth];
            put(&p.out, ")", 1);
            p.i++;
        } else if (c == '^') {
            puts_(&p.out, "(?<![^\\n])");
            p.i++;
        } else if (c == '$') {
            puts_(&p.out, "(?![^\\n])");
            p.i++;
        } else if (c == '{' && (q = quantifier_len(p.s + p.i, p.n - p.i)) > 0) {
            if (p.s[p.i + 1] == ',')
                puts_(&p.out, "{0"); /* Oniguruma's {,n} is PCRE2's {0,n} */
            else
                put(&p.out, "{", 1);
            put(&p.out, p.s + p.i + 1, q - 1);
            p.i += q;
        } else if (c == '.' || c == '|' || c == '*' || c == '+' || c == '?') {
            put(&p.out, &c, 1);
            p.i++;
        } else {
            uint32_t cp;
            size_t used;
            if (!decode_char(p.s + p.i, p.n - p.i, &cp, &used)) {
                rc = unsupported(&p, "invalid UTF-8");
                break;
            }
            if (cp >= 0x80 || (cp >= '0' && cp <= '9') || is_ascii_letter(cp) || cp == ' ')
                emit_literal_cp(&p, cp, fold);
            else
                put_cp(&p.out, cp); /* other ASCII: write it so no engine reads it as syntax */
            p.i += used;
        }
    }
    if (rc == QRANK_OK && depth != 0)
        rc = unsupported(&p, "unclosed group");
    if (rc == QRANK_OK && p.out.oom)
        rc = qr_error(err, QRANK_E_NO_MEMORY, "out of memory translating the pre-tokenizer regex");
    if (rc != QRANK_OK) {
        free(p.out.p);
        return rc;
    }
    *out = p.out.p;
    return QRANK_OK;
}

int qr_regex_escape_literal(const char *s, size_t len, char **out, qrank_error *err) {
    *out = NULL;
    if (qr_utf8_valid_prefix(s, len) != len)
        return qr_error(err, QRANK_E_FORMAT, "pre-tokenizer split string is not valid UTF-8");
    out_buf b = {0};
    put(&b, "", 0);
    size_t i = 0;
    while (i < len) {
        uint32_t cp = 0;
        size_t used = 1;
        decode_char(s + i, len - i, &cp, &used); /* cannot fail: validated above */
        put_cp(&b, cp);
        i += used;
    }
    if (b.oom) {
        free(b.p);
        return qr_error(err, QRANK_E_NO_MEMORY, "out of memory escaping the split string");
    }
    *out = b.p;
    return QRANK_OK;
}
