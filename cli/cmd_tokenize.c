/* cmd_tokenize.c - `qrank tokenize`: one JSON array of ids per input line.
 * With --json-lines each input line is a JSON string, so texts with newlines
 * (and any other character) can be tokenized too. */
#include <cjson/cJSON.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "cli_util.h"
#include "commands.h"

static void usage(FILE *f) {
    fputs("usage: qrank tokenize -m MODEL [-f FILE] [--json-lines]\n"
          "Prints, for each line of FILE (default stdin), a JSON array of token ids.\n"
          "Text is always plain text: \"<|im_end|>\" in a line is not a special token.\n"
          "--json-lines: each input line is a JSON-encoded string.\n",
          f);
}

int cmd_tokenize(int argc, char **argv) {
    const char *model_path = NULL, *file = NULL;
    int json_lines = 0;
    for (int i = 1; i < argc; i++) {
        const char *a = argv[i];
        if (strcmp(a, "-h") == 0 || strcmp(a, "--help") == 0) {
            usage(stdout);
            return 0;
        } else if (strcmp(a, "--json-lines") == 0) {
            json_lines = 1;
        } else if (cli_opt_is(a, "-m", "--model")) {
            if (!(model_path = cli_opt_value(argc, argv, &i))) return 2;
        } else if (cli_opt_is(a, "-f", "--file")) {
            if (!(file = cli_opt_value(argc, argv, &i))) return 2;
        } else {
            usage(stderr);
            return cli_fail("unknown option %s", a) + 1;
        }
    }
    if (!model_path) return cli_fail("tokenize needs -m MODEL") + 1;
    line_list lines;
    if (cli_read_lines(file, &lines)) return 1;
    qrank_model *m = cli_load_model(model_path, 0, QRANK_PRECISION_FAST);
    if (!m) {
        cli_free_lines(&lines);
        return 1;
    }
    int rc = 0;
    for (size_t i = 0; i < lines.n && !rc; i++) {
        const char *text = lines.lines[i];
        size_t len = strlen(text);
        cJSON *parsed = NULL;
        if (json_lines) {
            parsed = cJSON_Parse(text);
            if (!parsed || !cJSON_IsString(parsed)) {
                cJSON_Delete(parsed);
                rc = cli_fail("line %zu is not a JSON string", i + 1);
                break;
            }
            text = parsed->valuestring;
            len = strlen(text);
        }
        int32_t *ids;
        size_t n;
        qrank_error err;
        if (qrank_tokenize(m, text, len, &ids, &n, &err)) {
            rc = cli_fail("line %zu: %s", i + 1, err.message);
        } else {
            putchar('[');
            for (size_t j = 0; j < n; j++) printf(j ? ",%d" : "%d", ids[j]);
            puts("]");
            free(ids);
        }
        cJSON_Delete(parsed);
    }
    qrank_model_free(m);
    cli_free_lines(&lines);
    return rc;
}
