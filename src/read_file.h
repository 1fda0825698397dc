/* read_file.h - reading a whole small text file (config.json, tokenizer.json). */
#ifndef QRANK_READ_FILE_H
#define QRANK_READ_FILE_H

#include <stddef.h>

#include "qrank.h"

/* *out is malloc'd and NUL-terminated; files over max_bytes are refused. */
int qr_read_file(const char *path, size_t max_bytes, char **out, size_t *len, qrank_error *err);

#endif
