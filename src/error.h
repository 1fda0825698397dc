/* error.h - filling a qrank_error. Every fallible internal call takes a
 * `qrank_error *err` (may be NULL) and returns a QRANK_E_* code. */
#ifndef QRANK_ERROR_H
#define QRANK_ERROR_H

#include "qrank.h"

#if defined(__GNUC__)
#define QR_PRINTF(a, b) __attribute__((format(printf, a, b)))
#else
#define QR_PRINTF(a, b)
#endif

/* Sets err (when not NULL) and returns code, so that callers can write
 * `return qr_error(err, QRANK_E_FORMAT, "bad magic");`. */
int qr_error(qrank_error *err, int code, const char *fmt, ...) QR_PRINTF(3, 4);

/* Prepends context to an error already set: "loading x.gguf: <old message>". */
int qr_error_prefix(qrank_error *err, int code, const char *fmt, ...) QR_PRINTF(3, 4);

#endif
