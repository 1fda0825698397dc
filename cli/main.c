/* main.c - the qrank command line: picks a subcommand; each lives in its own
 * cli/cmd_<name>.c and does argument parsing and output only, all work being
 * done by libqrank (include/qrank.h). */
#include <stdio.h>
#include <string.h>

#include "commands.h"
#include "qrank.h"

typedef struct command {
    const char *name;
    int (*run)(int argc, char **argv);
    const char *help;
} command;

static const command commands[] = {
    {"rerank", cmd_rerank, "score documents for a query (Qwen3-Reranker)"},
    {"embed", cmd_embed, "embed texts (Qwen3-Embedding)"},
    {"tokenize", cmd_tokenize, "print token ids of each input line"},
    {"info", cmd_info, "describe a model file"},
    {"cluster", cmd_cluster, "group posts into topics, optionally reranked for a query"},
    {"eval", cmd_eval, "nDCG/MRR/P@1 of a reranker on a labelled JSONL set"},
    {"serve", cmd_serve, "serve the web page and the rerank/embedding HTTP APIs"},
};

static void usage(FILE *f) {
    fprintf(f, "qrank %s - Qwen3 rerankers and embedders on CPUs\n\nusage: qrank <command> [options]\n\n",
            qrank_version());
    for (size_t i = 0; i < sizeof commands / sizeof *commands; i++)
        fprintf(f, "  %-10s %s\n", commands[i].name, commands[i].help);
    fprintf(f, "\n'qrank <command> --help' describes a command's options.\n");
}

int main(int argc, char **argv) {
    if (argc < 2 || strcmp(argv[1], "-h") == 0 || strcmp(argv[1], "--help") == 0) {
        usage(argc < 2 ? stderr : stdout);
        return argc < 2 ? 2 : 0;
    }
    if (strcmp(argv[1], "--version") == 0) {
        printf("qrank %s\n", qrank_version());
        return 0;
    }
    for (size_t i = 0; i < sizeof commands / sizeof *commands; i++)
        if (strcmp(argv[1], commands[i].name) == 0) return commands[i].run(argc - 1, argv + 1);
    fprintf(stderr, "qrank: unknown command \"%s\"\n", argv[1]);
    usage(stderr);
    return 2;
}
