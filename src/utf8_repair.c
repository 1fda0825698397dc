/* utf8_repair.c - invalid UTF-8 -> U+FFFD, one replacement per maximal
 * ill-formed subpart.
 *
 * The rule is the one Unicode recommends and WHATWG's TextDecoder, Python and
 * ICU follow, so a byte string gives the same text here as in the reference
 * tokenizer's world (tests/tokenizer/ derives its byte goldens from
 * TextDecoder). The decoder is the table of well-formed sequences (Unicode
 * table 3-7) written out: the second byte's range depends on the lead byte,
 * the others are always 80..BF. A subpart ends at the first byte that cannot
 * continue it, and that byte is examined again as a possible lead. */
#include "utf8_repair.h"

#include <stdint.h>
#include <string.h>

size_t qr_utf8_sequence(const unsigned char *s, size_t n, size_t *bad_len) {
    unsigned char b = s[0];
    if (b < 0x80)
        return 1;
    size_t need;
    unsigned char lo = 0x80, hi = 0xBF; /* range of the second byte */
    if (b >= 0xC2 && b <= 0xDF) {
        need = 1;
    } else if (b >= 0xE0 && b <= 0xEF) {
        need = 2;
        if (b == 0xE0)
            lo = 0xA0; /* overlong below */
        else if (b == 0xED)
            hi = 0x9F; /* surrogates above */
    } else if (b >= 0xF0 && b <= 0xF4) {
        need = 3;
        if (b == 0xF0)
            lo = 0x90;
        else if (b == 0xF4)
            hi = 0x8F; /* above U+10FFFF */
    } else {
        *bad_len = 1; /* 80..C1, F5..FF never start a sequence */
        return 0;
    }
    size_t i = 1;
    for (; i <= need; i++) {
        if (i >= n)
            break;
        unsigned char c = s[i];
        unsigned char l = i == 1 ? lo : 0x80, h = i == 1 ? hi : 0xBF;
        if (c < l || c > h)
            break;
    }
    if (i > need)
        return need + 1;
    *bad_len = i;
    return 0;
}

size_t qr_utf8_valid_prefix(const char *text, size_t len) {
    const unsigned char *s = (const unsigned char *)text;
    size_t i = 0, bad;
    while (i < len) {
        /* ASCII runs dominate most text; skip them eight bytes at a time. */
        while (len - i >= 8) {
            uint64_t w;
            memcpy(&w, s + i, 8);
            if (w & 0x8080808080808080ull)
                break;
            i += 8;
        }
        if (i >= len)
            break;
        size_t k = qr_utf8_sequence(s + i, len - i, &bad);
        if (!k)
            return i;
        i += k;
    }
    return len;
}

size_t qr_utf8_repaired_len(const char *text, size_t len) {
    const unsigned char *s = (const unsigned char *)text;
    size_t i = 0, out = 0, bad;
    while (i < len) {
        size_t k = qr_utf8_sequence(s + i, len - i, &bad);
        if (k) {
            i += k;
            out += k;
        } else {
            i += bad;
            out += 3;
        }
    }
    return out;
}

size_t qr_utf8_repair(const char *text, size_t len, char *out) {
    const unsigned char *s = (const unsigned char *)text;
    size_t i = 0, o = 0, bad;
    while (i < len) {
        size_t k = qr_utf8_sequence(s + i, len - i, &bad);
        if (k) {
            memcpy(out + o, s + i, k);
            i += k;
            o += k;
        } else {
            memcpy(out + o, "\xEF\xBF\xBD", 3);
            i += bad;
            o += 3;
        }
    }
    return o;
}
