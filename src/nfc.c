/* nfc.c - NFC before pre-tokenizing, as Qwen's tokenizer.json asks.
 *
 * utf8proc does the normalisation. Most text never needs it, and utf8proc
 * costs about as much as the BPE itself, so a scan first checks whether every
 * code point is "inert" (Unicode's NFC quick check, restricted to characters
 * with combining class 0 so that no reordering can occur): ASCII, Latin-1 to
 * Latin Extended-B and spacing modifiers, the letters of Greek, Cyrillic,
 * Hebrew, Arabic, Devanagari and Thai, CJK ideographs and punctuation,
 * kana (without the combining voiced marks), Hangul syllables, full-width
 * forms, general punctuation after U+2001, variation selectors and emoji.
 * Where some characters are not inert, only the spans around them are
 * normalised. The ranges are listed conservatively; tests/test-tokenizer.c
 * proves them against utf8proc's own tables for every code point and
 * compares the span-wise result with whole-text utf8proc, so the fast path
 * cannot disagree with the slow one. */
#include "nfc.h"

#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include <utf8proc.h>

#include "error.h"

int qr_nfc_inert(uint32_t cp) {
    if (cp < 0x300)
        return 1;
    if (cp < 0x2002) {
        /* letters of the common scripts; their combining marks and the
         * singletons (U+0374, U+037E, U+0387, U+0958..F) stay outside */
        if (cp >= 0x370 && cp <= 0x482)
            return cp != 0x374 && cp != 0x37E && cp != 0x387;
        return (cp >= 0x48A && cp <= 0x52F) || (cp >= 0x5D0 && cp <= 0x5EA) ||
               (cp >= 0x620 && cp <= 0x64A) || (cp >= 0x905 && cp <= 0x939) ||
               (cp >= 0xE01 && cp <= 0xE30) || (cp >= 0xE32 && cp <= 0xE33) ||
               (cp >= 0xE3F && cp <= 0xE46);
    }
    if (cp <= 0x206F)
        return 1; /* U+2000, U+2001 are singletons; the rest of the block is not */
    if (cp >= 0x3000 && cp <= 0x30FF)
        return !(cp >= 0x302A && cp <= 0x302F) && cp != 0x3099 && cp != 0x309A; /* combining marks */
    if (cp >= 0x4E00 && cp <= 0x9FFF)
        return 1;
    if (cp >= 0xAC00 && cp <= 0xD7A3)
        return 1; /* LV/LVT syllables only combine with a following jamo, which is not inert */
    if (cp >= 0xFE00 && cp <= 0xFE0F)
        return 1;
    if (cp >= 0xFF00 && cp <= 0xFFEF)
        return 1;
    if (cp >= 0x1F000 && cp <= 0x1FAFF)
        return 1;
    return 0;
}

/* Decodes the character at s[i] (text already repaired, so well-formed):
 * its code point and length. */
static uint32_t next_cp(const unsigned char *s, size_t n, size_t i, size_t *k) {
    unsigned char b = s[i];
    uint32_t cp;
    if (b < 0x80) {
        *k = 1;
        return b;
    }
    if (b < 0xE0) {
        cp = b & 0x1Fu;
        *k = 2;
    } else if (b < 0xF0) {
        cp = b & 0x0Fu;
        *k = 3;
    } else {
        cp = b & 0x07u;
        *k = 4;
    }
    if (*k > n - i) { /* cannot happen after repair; end the text safely */
        *k = n - i;
        return 0xFFFD;
    }
    for (size_t j = 1; j < *k; j++)
        cp = (cp << 6) | (s[i + j] & 0x3Fu);
    return cp;
}

typedef struct out_text {
    char *p;
    size_t n, cap;
} out_text;

static int append(out_text *o, const void *src, size_t n, qrank_error *err) {
    if (o->cap - o->n < n || !o->p) {
        size_t cap = o->cap ? o->cap : 256;
        while (cap - o->n < n) {
            if (cap > SIZE_MAX / 2)
                return qr_error(err, QRANK_E_NO_MEMORY, "text too large to normalise");
            cap *= 2;
        }
        char *p = realloc(o->p, cap);
        if (!p)
            return qr_error(err, QRANK_E_NO_MEMORY, "out of memory normalising text");
        o->p = p;
        o->cap = cap;
    }
    memcpy(o->p + o->n, src, n);
    o->n += n;
    return QRANK_OK;
}

/* NFC never acts across an inert character (a starter that composes with
 * nothing before it), so only the spans "last inert character + the
 * non-inert run after it" go through utf8proc; the rest is copied. */
int qr_nfc(const char *text, size_t len, char **out, size_t *out_len, qrank_error *err) {
    *out = NULL;
    *out_len = len;
    const unsigned char *s = (const unsigned char *)text;
    size_t i = 0, k, prev = 0, copied = 0;
    out_text o = {0};
    int rc = QRANK_OK;
    while (i < len && rc == QRANK_OK) {
        if (s[i] < 0x80 || qr_nfc_inert(next_cp(s, len, i, &k))) {
            prev = i;
            i += s[i] < 0x80 ? 1 : k;
            continue;
        }
        /* A non-inert run starts at i; its span starts at the inert character
         * before it (prev, or the start of the text) and ends at the next
         * inert character. */
        size_t span_start = i > 0 ? prev : 0, span_end = i;
        while (span_end < len) {
            uint32_t cp = next_cp(s, len, span_end, &k);
            if (s[span_end] < 0x80 || qr_nfc_inert(cp))
                break;
            span_end += k;
        }
        if (span_end - span_start > (size_t)PTRDIFF_MAX / 8) {
            rc = qr_error(err, QRANK_E_TOO_LONG, "text of %zu bytes is too long", len);
            break;
        }
        rc = append(&o, s + copied, span_start - copied, err);
        if (rc)
            break;
        utf8proc_uint8_t *dst = NULL;
        utf8proc_ssize_t r = utf8proc_map(s + span_start, (utf8proc_ssize_t)(span_end - span_start), &dst,
                                          UTF8PROC_STABLE | UTF8PROC_COMPOSE);
        if (r < 0) {
            rc = qr_error(err, r == UTF8PROC_ERROR_NOMEM ? QRANK_E_NO_MEMORY : QRANK_E_INVALID_ARGUMENT,
                          "NFC normalisation failed: %s", utf8proc_errmsg(r));
            break;
        }
        rc = append(&o, dst, (size_t)r, err);
        free(dst);
        copied = i = span_end;
    }
    if (rc == QRANK_OK && o.p)
        rc = append(&o, s + copied, len - copied, err);
    if (rc) {
        free(o.p);
        return rc;
    }
    if (o.p) {
        *out = o.p;
        *out_len = o.n;
    }
    return QRANK_OK;
}
