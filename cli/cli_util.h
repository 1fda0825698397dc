/* cli_util.h - what every qrank subcommand shares: input lines, option
 * values, loading a model with a printable error. */
#ifndef QRANK_CLI_UTIL_H
#define QRANK_CLI_UTIL_H

#include <stddef.h>
#include <stdio.h>

#include "qrank.h"

typedef struct line_list {
    char **lines;
    size_t n, cap;
} line_list;

/* Reads every line of a file ("-" or NULL = stdin); strips "\n" and "\r\n".
 * Prints an error and returns non-zero on failure. */
int cli_read_lines(const char *path, line_list *out);
void cli_free_lines(line_list *l);

/* Parses a non-negative int option value; prints an error on failure. */
int cli_parse_int(const char *opt, const char *value, int min, int max, int *out);
int cli_parse_precision(const char *value, qrank_precision *out);

/* Loads a model; prints "qrank: <message>" on failure and returns NULL. */
qrank_model *cli_load_model(const char *path, int n_threads, qrank_precision precision);

/* The value of an option at argv[*i] ("-m X" or "--model=X"), advancing *i.
 * Returns NULL (after printing an error) when the value is missing. */
const char *cli_opt_value(int argc, char **argv, int *i);

/* Does argv's arg name this option ("-m", "--model" or "--model=...")? */
int cli_opt_is(const char *arg, const char *short_name, const char *long_name);

int cli_fail(const char *fmt, ...);

#endif
