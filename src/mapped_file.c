/* mapped_file.c - mmap of whole model files and reads of small side files.
 *
 * The descriptor is closed right after mmap: the mapping keeps the file alive,
 * so a loaded model holds no descriptor. */
#include "mapped_file.h"

#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/stat.h>
#include <unistd.h>

#include "error.h"

static int open_regular(const char *path, int *fd_out, size_t *size_out, qrank_error *err) {
    int fd = open(path, O_RDONLY | O_CLOEXEC);
    if (fd < 0) return qr_error(err, QRANK_E_IO, "%s: cannot open: %s", path, strerror(errno));
    struct stat st;
    if (fstat(fd, &st) != 0) {
        int e = errno;
        close(fd);
        return qr_error(err, QRANK_E_IO, "%s: cannot stat: %s", path, strerror(e));
    }
    if (!S_ISREG(st.st_mode)) {
        close(fd);
        return qr_error(err, QRANK_E_IO, "%s: not a regular file", path);
    }
    if (st.st_size < 0 || (uint64_t)st.st_size > (uint64_t)SIZE_MAX) {
        close(fd);
        return qr_error(err, QRANK_E_IO, "%s: file size %lld cannot be mapped", path,
                        (long long)st.st_size);
    }
    *fd_out = fd;
    *size_out = (size_t)st.st_size;
    return QRANK_OK;
}

int qr_map_file(const char *path, qr_mapped_file *out, qrank_error *err) {
    out->data = NULL;
    out->size = 0;
    int fd = -1;
    size_t size = 0;
    int rc = open_regular(path, &fd, &size, err);
    if (rc) return rc;
    if (size == 0) {
        close(fd);
        return QRANK_OK;
    }
    void *p = mmap(NULL, size, PROT_READ, MAP_PRIVATE, fd, 0);
    int e = errno;
    close(fd);
    if (p == MAP_FAILED)
        return qr_error(err, QRANK_E_IO, "%s: cannot map %zu bytes: %s", path, size, strerror(e));
    out->data = p;
    out->size = size;
    return QRANK_OK;
}

void qr_unmap_file(qr_mapped_file *m) {
    if (m->data) munmap((void *)m->data, m->size);
    m->data = NULL;
    m->size = 0;
}

void qr_mapped_file_drop(const qr_mapped_file *m, const void *p, size_t len) {
    const uintptr_t lo = (uintptr_t)p, hi = lo + len, base = (uintptr_t)m->data;
    if (!m->data || lo < base || hi < lo || hi > base + m->size) return;
    const uintptr_t page = (uintptr_t)sysconf(_SC_PAGESIZE);
    const uintptr_t a = (lo + page - 1) / page * page, b = hi / page * page;
    if (a < b) madvise((void *)a, b - a, MADV_DONTNEED);
}

int qr_read_small_file(const char *path, size_t max_bytes, char **out, size_t *len,
                       qrank_error *err) {
    *out = NULL;
    *len = 0;
    int fd = -1;
    size_t size = 0;
    int rc = open_regular(path, &fd, &size, err);
    if (rc) return rc;
    if (size > max_bytes) {
        close(fd);
        return qr_error(err, QRANK_E_FORMAT, "%s: %zu bytes is larger than the limit of %zu", path,
                        size, max_bytes);
    }
    char *buf = malloc(size + 1);
    if (!buf) {
        close(fd);
        return qr_error(err, QRANK_E_NO_MEMORY, "%s: cannot allocate %zu bytes", path, size + 1);
    }
    size_t got = 0;
    while (got < size) {
        ssize_t n = read(fd, buf + got, size - got);
        if (n < 0 && errno == EINTR) continue;
        if (n <= 0) { /* shrank under us or failed: either way the text is incomplete */
            int e = n < 0 ? errno : 0;
            close(fd);
            free(buf);
            return qr_error(err, QRANK_E_IO, "%s: read failed after %zu of %zu bytes%s%s", path,
                            got, size, e ? ": " : "", e ? strerror(e) : "");
        }
        got += (size_t)n;
    }
    close(fd);
    buf[size] = '\0';
    *out = buf;
    *len = size;
    return QRANK_OK;
}
