/* utf8_repair.h - the project's one rule for invalid UTF-8: every maximal
 * ill-formed subpart becomes one U+FFFD (Unicode 15 ch. 3, "U+FFFD
 * Substitution of Maximal Subparts"; the same output as WHATWG's TextDecoder
 * and Python's errors="replace"). Overlong forms, surrogates (ED A0..BF) and
 * code points above U+10FFFF are ill-formed; NUL is an ordinary character. */
#ifndef QRANK_UTF8_REPAIR_H
#define QRANK_UTF8_REPAIR_H

#include <stddef.h>

/* Length of the well-formed UTF-8 sequence starting at s[0] (1..4), or 0 when
 * s[0] starts an ill-formed subpart; *bad_len then receives the length of that
 * subpart (1..3), the bytes that one U+FFFD replaces. n > 0. */
size_t qr_utf8_sequence(const unsigned char *s, size_t n, size_t *bad_len);

/* Number of bytes of well-formed UTF-8 at the start of text (== len when the
 * whole text is valid). */
size_t qr_utf8_valid_prefix(const char *text, size_t len);

/* The repaired length of text: what qr_utf8_repair will write. */
size_t qr_utf8_repaired_len(const char *text, size_t len);

/* Writes the repaired text to out, which holds qr_utf8_repaired_len bytes
 * (not NUL-terminated). Returns the bytes written. */
size_t qr_utf8_repair(const char *text, size_t len, char *out);

#endif
