/* error.c - the one way errors are reported: a code and a printable message. */
#include "error.h"

#include <stdarg.h>
#include <stdio.h>
#include <string.h>

int qr_error(qrank_error *err, int code, const char *fmt, ...) {
    if (err) {
        va_list ap;
        va_start(ap, fmt);
        vsnprintf(err->message, sizeof err->message, fmt, ap);
        va_end(ap);
        err->code = code;
    }
    return code;
}

int qr_error_prefix(qrank_error *err, int code, const char *fmt, ...) {
    if (err) {
        char old[sizeof err->message];
        memcpy(old, err->message, sizeof old);
        old[sizeof old - 1] = '\0';
        char prefix[256];
        va_list ap;
        va_start(ap, fmt);
        vsnprintf(prefix, sizeof prefix, fmt, ap);
        va_end(ap);
        snprintf(err->message, sizeof err->message, "%s: %s", prefix, old);
        err->code = code;
    }
    return code;
}
