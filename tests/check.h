/* check.h - the CHECK macro of the C tests: a failed check prints where it
 * is, the condition and a message, counts itself in `failures`, and the test
 * goes on to the next check. main returns non-zero when failures > 0. */
#ifndef QRANK_TESTS_CHECK_H
#define QRANK_TESTS_CHECK_H

#include <stdio.h>

static int failures;

#define CHECK(cond, ...)                                                     \
    do {                                                                     \
        if (!(cond)) {                                                       \
            failures++;                                                      \
            fprintf(stderr, "FAIL %s:%d: %s: ", __FILE__, __LINE__, #cond);  \
            fprintf(stderr, __VA_ARGS__);                                    \
            fputc('\n', stderr);                                             \
        }                                                                    \
    } while (0)

#endif
