/*
 * qrank.h - the whole public contract of libqrank.
 *
 * qrank runs Qwen3 rerankers and embedders on CPUs. A model is loaded once
 * from a GGUF file or a Hugging Face directory (config.json, safetensors,
 * tokenizer.json) and then used from any number of calls. The library never
 * prints, never exits and never reads the environment: every fallible call
 * returns QRANK_OK or an error code and, when `err` is not NULL, fills it with
 * a message the caller can show.
 *
 *     qrank_model *m;
 *     qrank_error err;
 *     qrank_model_params mp = qrank_model_default_params();
 *     if (qrank_model_load("reranker.gguf", &mp, &m, &err) != QRANK_OK) {
 *         fprintf(stderr, "%s\n", err.message);
 *         return 1;
 *     }
 *     const char *docs[] = {"Beijing is the capital of China.", "Seoul is in Korea."};
 *     float scores[2];
 *     qrank_rerank_params rp = qrank_rerank_default_params();
 *     if (qrank_rerank(m, "What is the capital of China?", docs, 2, &rp, scores, NULL, NULL, &err))
 *         fprintf(stderr, "%s\n", err.message);
 *     qrank_model_free(m);
 *
 * Threads: calls that run a model may come from several threads (the one
 * thing a call changes in a model, the packed copy of its weights that a
 * first fast call may make, is made once, under a lock), but each call uses
 * `n_threads` compute threads of its own, so a server should funnel work
 * through one scheduler (qrank_rerank_batch) rather than call concurrently.
 * The calling thread is one of the compute threads, and the matrix kernels
 * keep their tiles on the stack: give threads that call the library at
 * least 256 KB of stack (glibc's default is 8 MB; the largest kernel frame
 * is about 92 KB).
 */
#ifndef QRANK_H
#define QRANK_H

#include <stddef.h>
#include <stdint.h>

#ifdef __cplusplus
extern "C" {
#endif

enum {
    QRANK_OK = 0,
    QRANK_E_INVALID_ARGUMENT = 1, /* a caller's argument is out of range or malformed */
    QRANK_E_IO = 2,               /* a file could not be opened, read or mapped */
    QRANK_E_FORMAT = 3,           /* a model file is corrupt, truncated or unsupported */
    QRANK_E_NO_MEMORY = 4,        /* an allocation failed */
    QRANK_E_TOO_LONG = 5,         /* input over a length limit that truncation cannot fix */
    QRANK_E_UNSUPPORTED = 6,      /* the model cannot do what was asked (e.g. embed with a reranker) */
};

typedef struct qrank_error {
    int code;
    char message[512];
} qrank_error;

typedef enum qrank_precision {
    /* Activations are rounded to the weights' type where the CPU has a faster
     * instruction for it (int8 for Q8_0 and the k-quants, bf16 for BF16, and
     * for F16 on AMX, the weights split exactly into two bf16 halves).
     * qrank_model_info.fast_activations says which. Default. */
    QRANK_PRECISION_FAST = 0,
    /* Every activation stays in f32; weights of any type are widened exactly. */
    QRANK_PRECISION_EXACT = 1,
} qrank_precision;

typedef enum qrank_model_kind {
    QRANK_KIND_RERANKER = 0, /* scores P(yes): Qwen3-Reranker */
    QRANK_KIND_EMBEDDER = 1, /* pools <|endoftext|>: Qwen3-Embedding */
} qrank_model_kind;

typedef struct qrank_model qrank_model;

typedef struct qrank_model_params {
    int n_threads;             /* compute threads; 0 = all cores */
    qrank_precision precision; /* default precision of calls on this model */
    /* When to copy the matrices into the layout the CPU's fast kernel
     * reads, letting the file's pages go so that resident memory stays one
     * copy (about 0.3 s per GB of weights, most of it fresh pages):
     *  0 (default): Q4_0/Q4_K/Q6_K, whose int8 kernel reads nothing else,
     *    by the first fast call; Q8_0 never (its kernel packs on the fly,
     *    5-10% slower per call, ~20% on small batches, and a one-batch
     *    process would not win the copy back), nor BF16 (the same, on the
     *    amx kernels: 10-40% slower without the copy);
     *  1: all of them at load, for long-lived processes (qrank serve
     *    --repack);
     *  2: as 0, and Q8_0's and BF16's too, made by qrank_model_pack_step
     *    while the caller is idle (qrank serve's default): the load stays
     *    fast, and calls get faster as the copies arrive, with the same
     *    scores;
     * -1: none. Q4_0/Q4_K/Q6_K then run on the f32 kernel, and their
     *    fast path is the exact one, attention included. */
    int repack;
    /* MB of memory for the keys and values of prompt prefixes kept between
     * calls: a reranker's system prompt, instruction and query, so that a
     * query scored again, against new documents, skips those rows; an
     * embedder's "Instruct: ...\nQuery" (which every input of a call with
     * an instruction shares anyway). Same results bit for bit. About 17 MB
     * per reranker query for the 0.6B model, least recently used first out.
     * 0 = the default, 64; -1 = none. */
    int prefix_cache_mb;
    /* The matrix kernels: NULL for the best this CPU runs, or one of
     * "generic", "avx2", "avxvnni", "avx512vnni", "avx512", "amx" (loading fails when the
     * CPU or the OS cannot run it), to compare them or to pin one. The CLI
     * and the server take it from the environment variable QRANK_KERNELS. */
    const char *kernels;
    /* What --precision fast runs attention on, for weights whose fast path
     * rounds activations (all but F32, and F16 without AMX): NULL for what is fastest on
     * this CPU with these kernels; "f32", as the exact path; or "bf16", the
     * queries, keys, values and probabilities rounded to bf16 (sums stay
     * f32) and multiplied on AMX tiles (kernels "amx") or with vdpbf16ps
     * ("avx512"; loading fails with other kernels). NULL picks bf16 on the
     * amx kernels, and on avx512 kernels where vdpbf16ps runs at the FMA's
     * rate (AMD Zen 4 and later); f32 elsewhere. The CLI and the server
     * take it from the environment variable QRANK_ATTENTION. */
    const char *attention;
} qrank_model_params;

qrank_model_params qrank_model_default_params(void);

/* Loads a GGUF file or a Hugging Face directory. The weights are mmap'd. */
int qrank_model_load(const char *path, const qrank_model_params *params, qrank_model **out,
                     qrank_error *err);
void qrank_model_free(qrank_model *model);

/* Changes the compute threads used by later calls (0 = all cores). */
void qrank_model_set_threads(qrank_model *model, int n_threads);

/* Makes now, on the model's threads, the copies of the weights that the
 * first fast call would otherwise make (qrank_model_params.repack 0:
 * Q4_0/Q4_K/Q6_K matrices), as a server does before it reports ready.
 * Nothing to do for other models, or when the copies exist. */
void qrank_model_pack(qrank_model *model);

/* Allocates and touches now the scratch memory that calls keep between
 * them (that of a 4,096-token batch: about 75 MB for the 0.6B model), as a
 * server does before it reports ready: later calls then neither fault it
 * in nor grow the process. Without it the first large call allocates it. */
int qrank_model_reserve(qrank_model *model, qrank_error *err);

/* Makes a few more of the copies that repack 2 leaves for idle time (one
 * matrix per compute thread, a few milliseconds for the 0.6B model), for a
 * caller with nothing else to do: qrank serve calls it while no request
 * waits. Returns 1 while copies remain, else 0. Calls on the model may run
 * beside it: a matrix is read from the file's layout until its copy is
 * whole, and the scores are the same bit for bit either way. */
int qrank_model_pack_step(qrank_model *model);

typedef struct qrank_model_info {
    qrank_model_kind kind;
    const char *name;        /* general.name, or the directory's name */
    const char *file_format; /* "gguf" or "huggingface" */
    const char *weight_type; /* the type of most matrix weights: "Q8_0", "BF16", ... */
    int n_layers;
    int hidden;
    int ffn;
    int n_heads;
    int n_kv_heads;
    int head_dim;
    int vocab_size;       /* tokens the tokenizer knows */
    int embedding_rows;   /* rows of the embedding table (may be padded) */
    int context_length;   /* the model's maximum positions */
    double rope_theta;
    double rms_eps;
    int has_cls_output;   /* 1: a [2, hidden] yes/no head; 0: tied embedding rows */
    size_t n_tensors;
    size_t weight_bytes;  /* bytes of tensor data in the file(s) */
    const char *kernels;  /* the matrix kernels in use: "amx", "avx512", "avx512vnni", "avxvnni", "avx2", "generic" */
    /* what --precision fast runs attention on (qrank_model_params.attention):
     * "bf16 amx", "bf16 vdpbf16ps" or "f32" (always for weights whose fast
     * path rounds nothing: fast_activations "f32") */
    const char *attention;
    /* what --precision fast rounds the matrix multiplications' activations
     * to, for these weights on these kernels: "int8" (Q8_0 and, laid out,
     * Q4_0, Q4_K, Q6_K), "bf16" (BF16; F16 on "amx") or "f32" (nothing: the
     * fast path is the exact one, attention included) */
    const char *fast_activations;
    size_t packed_bytes;  /* weights laid out again for those kernels so far */
    size_t layout_bytes;  /* ... once every matrix that gets a layout has been used (0: none) */
    /* the prefix cache (qrank_model_params.prefix_cache_mb): calls whose
     * prefix was kept, calls that computed it, and memory in use */
    uint64_t prefix_cache_hits, prefix_cache_misses;
    size_t prefix_cache_bytes;
} qrank_model_info;

void qrank_model_get_info(const qrank_model *model, qrank_model_info *info);

/* Tensor i (0 <= i < info.n_tensors): its name, type name and shape, inner dimension first. */
typedef struct qrank_tensor_info {
    const char *name;
    const char *type;
    int n_dims;
    int64_t shape[4];
} qrank_tensor_info;

int qrank_model_get_tensor(const qrank_model *model, size_t i, qrank_tensor_info *info);

/* Tokenizes user text as plain text: strings such as "<|im_end|>" are never
 * special. Invalid UTF-8 bytes become U+FFFD. `*ids` is malloc'd; free() it. */
int qrank_tokenize(const qrank_model *model, const char *text, size_t len, int32_t **ids,
                   size_t *n_ids, qrank_error *err);

/* Looks up a token's text (byte-level form as in the vocabulary); NULL when out of range. */
const char *qrank_token_text(const qrank_model *model, int32_t id);

/* ---- rerank ---------------------------------------------------------------------------- */

#define QRANK_DEFAULT_INSTRUCTION \
    "Given a web search query, retrieve relevant passages that answer the query"
#define QRANK_DEFAULT_MAX_LENGTH 8192

typedef struct qrank_rerank_params {
    const char *instruction; /* NULL or "" = QRANK_DEFAULT_INSTRUCTION */
    int max_length;          /* whole prompt, in tokens; 0 = QRANK_DEFAULT_MAX_LENGTH */
    int max_tokens_per_doc;  /* extra cap on each document's tokens; 0 = none */
    qrank_precision precision;
} qrank_rerank_params;

qrank_rerank_params qrank_rerank_default_params(void);

typedef struct qrank_usage {
    size_t prompt_tokens;   /* tokens of every prompt as the official code would count them */
    size_t computed_tokens; /* tokens that went through the model (the shared prefix once) */
    size_t prefix_tokens_reused; /* prompt_tokens - computed_tokens */
    size_t truncated_documents;
} qrank_usage;

/* Scores documents for one query: scores[i] = P(yes) for docs[i], in input order.
 * logits (optional) receives logit(yes) - logit(no). usage is optional. */
int qrank_rerank(qrank_model *model, const char *query, const char *const *docs, size_t n_docs,
                 const qrank_rerank_params *params, float *scores, float *logits,
                 qrank_usage *usage, qrank_error *err);

/* Several queries at once: the documents of every request go through the same
 * forward passes (what a server's scheduler wants). Each request's outputs are
 * written to its own arrays. usage (optional) is the sum over requests. */
typedef struct qrank_rerank_request {
    const char *query;
    const char *const *docs;
    size_t n_docs;
    qrank_rerank_params params; /* precision is taken from the first request */
    float *scores;              /* n_docs */
    float *logits;              /* n_docs or NULL */
    qrank_usage usage;          /* filled per request */
} qrank_rerank_request;

int qrank_rerank_batch(qrank_model *model, qrank_rerank_request *requests, size_t n_requests,
                       qrank_error *err);

/* Fills order[0..n) with indices of scores, best first; ties keep input order. */
void qrank_rank_order(const float *scores, size_t n, size_t *order);

/* ---- embeddings ------------------------------------------------------------------------ */

typedef struct qrank_embed_params {
    const char *instruction; /* NULL: texts are embedded as they are (documents);
                                else "Instruct: {instruction}\nQuery:{text}" */
    int dims;                /* 0 = the model's hidden size; else 32..hidden (MRL) */
    int max_length;          /* tokens per text including <|endoftext|>; 0 = 8192 */
    qrank_precision precision;
} qrank_embed_params;

qrank_embed_params qrank_embed_default_params(void);

/* out: n_texts rows of `dims` floats, each L2-normalised. */
int qrank_embed(qrank_model *model, const char *const *texts, size_t n_texts,
                const qrank_embed_params *params, float *out, qrank_usage *usage,
                qrank_error *err);

const char *qrank_version(void);

/* ---- topic clustering and reranker evaluation (src/cluster.c, src/eval.c) -------------- */

/* The instruction every post is embedded with before clustering (MODEL.md). */
#define QRANK_DEFAULT_CLUSTER_INSTRUCTION \
    "Identify the topic or theme of the given social media posts"

typedef struct qrank_cluster_params {
    int k;              /* clusters; 0 = the k in [k_min, k_max] with the best silhouette */
    int k_min, k_max;   /* default 2..10; k_max is cut to n_texts - 1 */
    int n_restarts;     /* k-means++ runs per k, lowest inertia kept; default 8 */
    int max_iterations; /* Lloyd iterations per run; default 100 */
    uint64_t seed;      /* same texts, params and seed: same clustering, any thread count */
    int n_central;      /* most central posts reported per cluster; default 3 */
    int n_threads;      /* threads of the clustering itself; 0 = all cores */
    /* qrank_cluster only: */
    qrank_embed_params embed; /* instruction defaults to QRANK_DEFAULT_CLUSTER_INSTRUCTION;
                                 NULL or "" embeds the posts as plain documents */
    const char *query;        /* with a reranker: members are ordered by P(yes) for it */
    qrank_rerank_params rerank;
} qrank_cluster_params;

qrank_cluster_params qrank_cluster_default_params(void);

typedef struct qrank_clustering qrank_clustering;

/* Embeds the texts with `embedder`, clusters them, and, when `reranker` and
 * params->query are given, scores every text for the query. usage (optional)
 * adds up both models' tokens. */
int qrank_cluster(qrank_model *embedder, qrank_model *reranker, const char *const *texts,
                  size_t n_texts, const qrank_cluster_params *params, qrank_clustering **out,
                  qrank_usage *usage, qrank_error *err);

/* The same on vectors computed elsewhere (n rows of `dims` floats; they are
 * normalised here). scores (optional, n values, higher is better) order each
 * cluster's members. Only the clustering fields of params are read. */
int qrank_cluster_vectors(const float *vectors, size_t n, size_t dims, const float *scores,
                          const qrank_cluster_params *params, qrank_clustering **out,
                          qrank_error *err);

typedef struct qrank_clustering_info {
    size_t n_texts;
    size_t dims;
    int k;             /* clusters in the result (empty ones are dropped) */
    int k_min, k_max;  /* the range searched; both equal k when k was given */
    const double *silhouette_by_k; /* k_max - k_min + 1 values; NaN where not computable */
    double silhouette; /* mean silhouette (cosine distance) of the result; 0 when k == 1 */
    double inertia;    /* sum over texts of 1 - cos(text, its cluster's centroid) */
    const int *labels; /* n_texts: each text's cluster, 0..k-1 */
    const float *map;  /* n_texts x 2: PCA of the embeddings, for a 2-D plot */
    int has_scores;
} qrank_clustering_info;

/* One cluster; clusters are numbered by size, largest first. */
typedef struct qrank_cluster_members {
    size_t size;
    const size_t *members;   /* text indices, best first: by score when there are scores,
                                else by similarity to the centroid */
    const float *scores;     /* per member, or NULL */
    const float *similarity; /* per member: cosine to the cluster's centroid */
    const size_t *central;   /* the n_central texts nearest the centroid, nearest first */
    size_t n_central;
} qrank_cluster_members;

void qrank_clustering_get_info(const qrank_clustering *clustering, qrank_clustering_info *info);
int qrank_clustering_get_cluster(const qrank_clustering *clustering, int cluster,
                                 qrank_cluster_members *out, qrank_error *err);
void qrank_clustering_free(qrank_clustering *clustering);

/* Reranker evaluation. A set is JSON lines, one query each:
 *   {"query": "...", "instruction": "..." (optional), "documents": ["...", ...],
 *    "labels": [graded relevance, integers 0..5, one per document]}
 * Metrics, for the reranker's order and for the documents' original order:
 * nDCG@5 and nDCG@10 with linear gain (label / log2(rank + 1), as trec_eval
 * and MTEB), MRR and P@1 where a document is relevant when its label is at
 * least min_relevant. Overall figures are means over queries. */
typedef struct qrank_eval_set qrank_eval_set;

int qrank_eval_set_load(const char *path, qrank_eval_set **out, qrank_error *err);
size_t qrank_eval_set_count(const qrank_eval_set *set);
void qrank_eval_set_free(qrank_eval_set *set);

typedef struct qrank_eval_params {
    qrank_rerank_params rerank; /* its instruction serves lines without one */
    int min_relevant;           /* default 3 */
} qrank_eval_params;

qrank_eval_params qrank_eval_default_params(void);

typedef struct qrank_eval_metrics {
    double ndcg_at_5, ndcg_at_10, mrr, precision_at_1;
} qrank_eval_metrics;

typedef struct qrank_eval_query {
    size_t line; /* 1-based line in the file */
    const char *query;
    const char *instruction; /* NULL when the line has none */
    size_t n_documents;
    const char *const *documents;
    const int *labels;
    const float *scores;     /* P(yes) per document, after qrank_eval */
    qrank_eval_metrics reranker, original;
} qrank_eval_query;

/* Scores every query's documents and computes the metrics into the set. */
int qrank_eval(qrank_model *reranker, qrank_eval_set *set, const qrank_eval_params *params,
               qrank_usage *usage, qrank_error *err);
int qrank_eval_set_get_query(const qrank_eval_set *set, size_t i, qrank_eval_query *out,
                             qrank_error *err);
void qrank_eval_set_overall(const qrank_eval_set *set, qrank_eval_metrics *reranker,
                            qrank_eval_metrics *original);


#ifdef __cplusplus
}
#endif
#endif
