/* read_file.c - whole-file reads for the small JSON files of a model directory. */
#include "read_file.h"

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

#include "error.h"

int qr_read_file(const char *path, size_t max_bytes, char **out, size_t *len, qrank_error *err) {
    FILE *f = fopen(path, "rb");
    if (!f) return qr_error(err, QRANK_E_IO, "cannot open %s: %s", path, strerror(errno));
    struct stat st;
    if (fstat(fileno(f), &st) != 0 || !S_ISREG(st.st_mode)) {
        fclose(f);
        return qr_error(err, QRANK_E_IO, "%s is not a regular file", path);
    }
    if ((unsigned long long)st.st_size > max_bytes) {
        fclose(f);
        return qr_error(err, QRANK_E_FORMAT, "%s is %lld bytes, more than the %zu allowed", path,
                        (long long)st.st_size, max_bytes);
    }
    size_t n = (size_t)st.st_size;
    char *buf = malloc(n + 1);
    if (!buf) {
        fclose(f);
        return qr_error(err, QRANK_E_NO_MEMORY, "out of memory reading %s", path);
    }
    if (n && fread(buf, 1, n, f) != n) {
        free(buf);
        fclose(f);
        return qr_error(err, QRANK_E_IO, "cannot read %s", path);
    }
    fclose(f);
    buf[n] = '\0';
    *out = buf;
    *len = n;
    return QRANK_OK;
}
