/* main.c - the qrank command line: argument parsing and output only; all work
 * is done by libqrank (include/qrank.h). */
#include <stdio.h>
#include <string.h>

#include "qrank.h"

int main(int argc, char **argv) {
    if (argc > 1 && strcmp(argv[1], "--version") == 0) {
        printf("qrank %s\n", qrank_version());
        return 0;
    }
    fprintf(stderr, "usage: qrank <command> [options]\n");
    return 2;
}
