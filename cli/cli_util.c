/* cli_util.c - shared plumbing of the subcommands. */
#include "cli_util.h"

#include <errno.h>
#include <stdarg.h>
#include <stdlib.h>
#include <string.h>

int cli_fail(const char *fmt, ...) {
    va_list ap;
    va_start(ap, fmt);
    fputs("qrank: ", stderr);
    vfprintf(stderr, fmt, ap);
    fputc('\n', stderr);
    va_end(ap);
    return 1;
}

int cli_read_lines(const char *path, line_list *out) {
    memset(out, 0, sizeof *out);
    FILE *f = stdin;
    if (path && strcmp(path, "-") != 0) {
        f = fopen(path, "rb");
        if (!f) return cli_fail("cannot open %s: %s", path, strerror(errno));
    }
    char *line = NULL;
    size_t cap = 0;
    ssize_t len;
    int rc = 0;
    while ((len = getline(&line, &cap, f)) >= 0) {
        if (len > 0 && line[len - 1] == '\n') line[--len] = '\0';
        if (len > 0 && line[len - 1] == '\r') line[--len] = '\0';
        if (out->n == out->cap) {
            size_t nc = out->cap ? out->cap * 2 : 64;
            char **p = realloc(out->lines, nc * sizeof *p);
            if (!p) {
                rc = cli_fail("out of memory reading input");
                break;
            }
            out->lines = p;
            out->cap = nc;
        }
        out->lines[out->n] = malloc((size_t)len + 1);
        if (!out->lines[out->n]) {
            rc = cli_fail("out of memory reading input");
            break;
        }
        memcpy(out->lines[out->n], line, (size_t)len + 1);
        out->n++;
    }
    if (!rc && ferror(f)) rc = cli_fail("error reading %s", path && strcmp(path, "-") ? path : "stdin");
    free(line);
    if (f != stdin) fclose(f);
    if (rc) cli_free_lines(out);
    return rc;
}

void cli_free_lines(line_list *l) {
    for (size_t i = 0; i < l->n; i++) free(l->lines[i]);
    free(l->lines);
    memset(l, 0, sizeof *l);
}

int cli_parse_int(const char *opt, const char *value, int min, int max, int *out) {
    char *end;
    errno = 0;
    long v = strtol(value, &end, 10);
    if (errno || end == value || *end || v < min || v > max)
        return cli_fail("%s expects an integer in %d..%d, got \"%s\"", opt, min, max, value);
    *out = (int)v;
    return 0;
}

int cli_parse_precision(const char *value, qrank_precision *out) {
    if (strcmp(value, "exact") == 0) *out = QRANK_PRECISION_EXACT;
    else if (strcmp(value, "fast") == 0) *out = QRANK_PRECISION_FAST;
    else return cli_fail("--precision expects exact or fast, got \"%s\"", value);
    return 0;
}

qrank_model *cli_load_model(const char *path, int n_threads, qrank_precision precision) {
    if (!path) {
        cli_fail("no model given (-m MODEL: a .gguf file or a Hugging Face directory)");
        return NULL;
    }
    qrank_model_params mp = qrank_model_default_params();
    mp.n_threads = n_threads;
    mp.precision = precision;
    mp.kernels = getenv("QRANK_KERNELS"); /* see qrank_model_params.kernels */
    mp.attention = getenv("QRANK_ATTENTION"); /* see qrank_model_params.attention */
    qrank_model *m = NULL;
    qrank_error err;
    if (qrank_model_load(path, &mp, &m, &err) != QRANK_OK) {
        cli_fail("%s", err.message);
        return NULL;
    }
    return m;
}

const char *cli_opt_value(int argc, char **argv, int *i) {
    const char *arg = argv[*i];
    const char *eq = strncmp(arg, "--", 2) == 0 ? strchr(arg, '=') : NULL;
    if (eq) return eq + 1;
    if (*i + 1 >= argc) {
        cli_fail("option %s needs a value", arg);
        return NULL;
    }
    return argv[++*i];
}

int cli_opt_is(const char *arg, const char *short_name, const char *long_name) {
    if (short_name && strcmp(arg, short_name) == 0) return 1;
    if (!long_name) return 0;
    size_t n = strlen(long_name);
    return strncmp(arg, long_name, n) == 0 && (arg[n] == '\0' || arg[n] == '=');
}
