/* cmd_info.c - `qrank info`: what a model file is and holds. */
#include <stdio.h>
#include <string.h>

#include "cli_util.h"
#include "commands.h"

int cmd_info(int argc, char **argv) {
    const char *model_path = NULL;
    int tensors = 0;
    for (int i = 1; i < argc; i++) {
        const char *a = argv[i];
        if (strcmp(a, "-h") == 0 || strcmp(a, "--help") == 0) {
            puts("usage: qrank info -m MODEL [--tensors]\n"
                 "Prints the architecture, shapes, tensor types and vocabulary of a model.");
            return 0;
        } else if (strcmp(a, "--tensors") == 0) {
            tensors = 1;
        } else if (cli_opt_is(a, "-m", "--model")) {
            if (!(model_path = cli_opt_value(argc, argv, &i))) return 2;
        } else {
            return cli_fail("unknown option %s", a) + 1;
        }
    }
    qrank_model *m = cli_load_model(model_path, 0, QRANK_PRECISION_FAST);
    if (!m) return 1;
    qrank_model_info in;
    qrank_model_get_info(m, &in);
    printf("file:            %s (%s)\n", model_path, in.file_format);
    printf("name:            %s\n", in.name);
    printf("architecture:    qwen3 %s\n", in.kind == QRANK_KIND_RERANKER ? "reranker" : "embedder");
    printf("layers:          %d\n", in.n_layers);
    printf("hidden:          %d\n", in.hidden);
    printf("feed-forward:    %d\n", in.ffn);
    printf("heads:           %d query, %d key/value (GQA %d), head dim %d\n", in.n_heads, in.n_kv_heads,
           in.n_heads / in.n_kv_heads, in.head_dim);
    printf("context:         %d\n", in.context_length);
    printf("rope theta:      %g\n", in.rope_theta);
    printf("rms eps:         %g\n", in.rms_eps);
    printf("vocabulary:      %d tokens, %d embedding rows\n", in.vocab_size, in.embedding_rows);
    printf("rerank head:     %s\n", in.has_cls_output ? "cls.output (yes, no)" : "tied embedding rows of yes, no");
    printf("weights:         %s, %zu tensors, %.1f MB\n", in.weight_type, in.n_tensors, in.weight_bytes / 1e6);
    if (in.layout_bytes && in.packed_bytes == in.layout_bytes)
        printf("kernels:         %s, %.1f MB of matrices laid out for them at load\n", in.kernels,
               in.packed_bytes / 1e6);
    else if (in.layout_bytes)
        printf("kernels:         %s, %.1f MB of matrices to be laid out for them by the first fast call\n",
               in.kernels, in.layout_bytes / 1e6);
    else
        printf("kernels:         %s\n", in.kernels);
    printf("fast attention:  %s\n", in.attention);
    printf("fast matrices:   %s activations\n", in.fast_activations);
    /* a histogram of tensor types */
    const char *types[16];
    size_t counts[16], n_types = 0;
    for (size_t i = 0; i < in.n_tensors; i++) {
        qrank_tensor_info t;
        qrank_model_get_tensor(m, i, &t);
        size_t k = 0;
        while (k < n_types && strcmp(types[k], t.type) != 0) k++;
        if (k == n_types && n_types < 16) {
            types[n_types] = t.type;
            counts[n_types++] = 0;
        }
        if (k < n_types) counts[k]++;
    }
    printf("tensor types:   ");
    for (size_t k = 0; k < n_types; k++) printf(" %s x%zu", types[k], counts[k]);
    putchar('\n');
    if (tensors)
        for (size_t i = 0; i < in.n_tensors; i++) {
            qrank_tensor_info t;
            qrank_model_get_tensor(m, i, &t);
            printf("  %-40s %-5s [", t.name, t.type);
            for (int d = 0; d < t.n_dims; d++) printf(d ? ", %lld" : "%lld", (long long)t.shape[d]);
            puts("]");
        }
    qrank_model_free(m);
    return 0;
}
