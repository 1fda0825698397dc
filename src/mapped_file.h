/* mapped_file.h - a whole file mapped read-only, shared by the model readers.
 *
 * Model files are hundreds of megabytes and must open in milliseconds, so they
 * are never read or copied: the kernel pages them in on first touch. The
 * mapping is MAP_PRIVATE and PROT_READ; nothing ever writes through it. */
#ifndef QRANK_MAPPED_FILE_H
#define QRANK_MAPPED_FILE_H

#include <stddef.h>
#include <stdint.h>

#include "qrank.h"

typedef struct qr_mapped_file {
    const uint8_t *data; /* NULL when size is 0 (an empty file cannot be mapped) */
    size_t size;
} qr_mapped_file;

/* QRANK_E_IO when the file cannot be opened, is not a regular file, or cannot
 * be mapped; the message names the path. */
int qr_map_file(const char *path, qr_mapped_file *out, qrank_error *err);
/* Safe on a zeroed or already unmapped struct. */
void qr_unmap_file(qr_mapped_file *m);
/* The pages wholly inside [p, p + len) leave the process's resident set
 * (MADV_DONTNEED): they stay valid, and are read from the file again if
 * touched. For data the process keeps a copy of elsewhere. Ignored unless
 * the range lies inside this mapping. */
void qr_mapped_file_drop(const qr_mapped_file *m, const void *p, size_t len);

/* Reads a small file (a JSON side file) into a NUL-terminated malloc'd buffer;
 * files over max_bytes are refused with QRANK_E_FORMAT before reading. */
int qr_read_small_file(const char *path, size_t max_bytes, char **out, size_t *len,
                       qrank_error *err);

#endif
