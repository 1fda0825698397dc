/* nfc.c - NFC before pre-tokenizing, as Qwen's tokenizer.json asks.
 *
 * utf8proc does the normalisation. Most text never needs it, and utf8proc
 * costs about as much as the BPE itself, so a scan first checks whether every
 * code point is "inert" (Unicode's NFC quick check, restricted to characters
 * with combining class 0 so that no reordering can occur): ASCII, Latin-1 to
 * Latin Extended-B and spacing modifiers, CJK ideographs and punctuation,
 * kana (without the combining voiced marks), Hangul syllables, full-width
 * forms, general punctuation after U+2001, variation selectors and emoji.
 * The ranges are listed conservatively; tests/test-tokenizer.c proves them
 * against utf8proc's own tables for every code point, so the fast path can
 * never disagree with the slow one. */
#include "nfc.h"

#include <stdint.h>
#include <stdlib.h>
#include <utf8proc.h>

#include "error.h"

int qr_nfc_inert(uint32_t cp) {
    if (cp < 0x300)
        return 1;
    if (cp < 0x2002)
        return 0;
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

/* The scan needs no validation: qr_tokenize has repaired the text. */
static int all_inert(const unsigned char *s, size_t n) {
    size_t i = 0;
    while (i < n) {
        unsigned char b = s[i];
        if (b < 0x80) {
            i++;
            continue;
        }
        uint32_t cp;
        size_t k;
        if (b < 0xE0) {
            cp = b & 0x1Fu;
            k = 2;
        } else if (b < 0xF0) {
            cp = b & 0x0Fu;
            k = 3;
        } else {
            cp = b & 0x07u;
            k = 4;
        }
        if (k > n - i)
            return 0;
        for (size_t j = 1; j < k; j++)
            cp = (cp << 6) | (s[i + j] & 0x3Fu);
        if (!qr_nfc_inert(cp))
            return 0;
        i += k;
    }
    return 1;
}

int qr_nfc(const char *text, size_t len, char **out, size_t *out_len, qrank_error *err) {
    *out = NULL;
    *out_len = len;
    if (all_inert((const unsigned char *)text, len))
        return QRANK_OK;
    /* utf8proc works in signed sizes and up to 4 bytes a code point. */
    if (len > (size_t)PTRDIFF_MAX / 8)
        return qr_error(err, QRANK_E_TOO_LONG, "text of %zu bytes is too long", len);
    utf8proc_uint8_t *dst = NULL;
    utf8proc_ssize_t r = utf8proc_map((const utf8proc_uint8_t *)text, (utf8proc_ssize_t)len, &dst,
                                      UTF8PROC_STABLE | UTF8PROC_COMPOSE);
    if (r < 0)
        return qr_error(err, r == UTF8PROC_ERROR_NOMEM ? QRANK_E_NO_MEMORY : QRANK_E_INVALID_ARGUMENT,
                        "NFC normalisation failed: %s", utf8proc_errmsg(r));
    *out = (char *)dst;
    *out_len = (size_t)r;
    return QRANK_OK;
}
