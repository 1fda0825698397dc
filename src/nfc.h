/* nfc.h - Unicode NFC for the tokenizer: utf8proc, skipped when the text is
 * provably NFC already. */
#ifndef QRANK_NFC_H
#define QRANK_NFC_H

#include <stddef.h>
#include <stdint.h>

#include "qrank.h"

/* 1 when cp is its own NFC, has canonical combining class 0 and is never
 * the second part of a canonical composition; 0 when not known to be so. A
 * text made only of such code points is its own NFC. */
int qr_nfc_inert(uint32_t cp);

/* NFC of well-formed UTF-8 text. When the text is already NFC by the inert
 * test, *out is NULL and the caller keeps using text; else *out is a malloc'd
 * buffer of *out_len bytes. */
int qr_nfc(const char *text, size_t len, char **out, size_t *out_len, qrank_error *err);

#endif
