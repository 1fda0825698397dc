/* cmd_embed.c - `qrank embed`: one JSON array (a unit vector) per input line. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "cli_util.h"
#include "commands.h"

static void usage(FILE *f) {
    fputs("usage: qrank embed -m MODEL [-i INSTRUCTION] [--dims D] [-f FILE] [--max-length N]\n"
          "                   [--precision exact|fast] [--threads N]\n"
          "Prints one JSON array per line of FILE (default stdin): the L2-normalised embedding.\n"
          "With -i, each line is embedded as a query: \"Instruct: INSTRUCTION\\nQuery:LINE\".\n",
          f);
}

int cmd_embed(int argc, char **argv) {
    const char *model_path = NULL, *file = NULL;
    int threads = 0;
    qrank_embed_params ep = qrank_embed_default_params();
    for (int i = 1; i < argc; i++) {
        const char *a = argv[i], *v;
        if (strcmp(a, "-h") == 0 || strcmp(a, "--help") == 0) {
            usage(stdout);
            return 0;
        } else if (cli_opt_is(a, "-m", "--model")) {
            if (!(model_path = cli_opt_value(argc, argv, &i))) return 2;
        } else if (cli_opt_is(a, "-i", "--instruction")) {
            if (!(ep.instruction = cli_opt_value(argc, argv, &i))) return 2;
        } else if (cli_opt_is(a, "-f", "--file")) {
            if (!(file = cli_opt_value(argc, argv, &i))) return 2;
        } else if (cli_opt_is(a, NULL, "--dims")) {
            if (!(v = cli_opt_value(argc, argv, &i)) || cli_parse_int(a, v, 1, 1 << 20, &ep.dims)) return 2;
        } else if (cli_opt_is(a, NULL, "--max-length")) {
            if (!(v = cli_opt_value(argc, argv, &i)) || cli_parse_int(a, v, 2, 1 << 24, &ep.max_length)) return 2;
        } else if (cli_opt_is(a, NULL, "--threads")) {
            if (!(v = cli_opt_value(argc, argv, &i)) || cli_parse_int(a, v, 0, 4096, &threads)) return 2;
        } else if (cli_opt_is(a, NULL, "--precision")) {
            if (!(v = cli_opt_value(argc, argv, &i)) || cli_parse_precision(v, &ep.precision)) return 2;
        } else {
            usage(stderr);
            return cli_fail("unknown option %s", a) + 1;
        }
    }
    if (!model_path) return cli_fail("embed needs -m MODEL") + 1;
    line_list lines;
    if (cli_read_lines(file, &lines)) return 1;
    qrank_model *m = cli_load_model(model_path, threads, ep.precision);
    if (!m) {
        cli_free_lines(&lines);
        return 1;
    }
    qrank_model_info info;
    qrank_model_get_info(m, &info);
    int dims = ep.dims > 0 ? ep.dims : info.hidden;
    int rc = 0;
    float *out = malloc((lines.n ? lines.n : 1) * (size_t)dims * sizeof(float));
    qrank_error err;
    if (!out) {
        rc = cli_fail("out of memory");
    } else if (qrank_embed(m, (const char *const *)lines.lines, lines.n, &ep, out, NULL, &err)) {
        rc = cli_fail("%s", err.message);
    } else {
        for (size_t i = 0; i < lines.n; i++) {
            putchar('[');
            for (int d = 0; d < dims; d++) printf(d ? ",%.9g" : "%.9g", out[i * (size_t)dims + d]);
            puts("]");
        }
    }
    free(out);
    qrank_model_free(m);
    cli_free_lines(&lines);
    return rc;
}
