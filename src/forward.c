/* forward.c - the Qwen3 forward pass (MODEL.md), over packed sequences.
 *
 * Per layer: x = h + attn(rmsnorm(h)); h' = x + mlp(rmsnorm(x)); a final
 * rmsnorm at the end. Three decisions shape this file:
 *  - Sequences are packed back to back, never padded: every projection is one
 *    matrix multiplication over all rows of all sequences, and attention
 *    walks each sequence's own rows (plus its shared prefix, if any: kept
 *    from an earlier call, or rows of this batch before it).
 *  - A layer runs chunk by chunk of rows: queries, keys and values from one
 *    multiplication, attention over the keys so far, the MLP. Memory stays
 *    linear in the number of tokens (a 32K-token document needs
 *    ~T x (hidden + 2 kv_dim) floats, not T^2 scores or T x ffn
 *    intermediates).
 *  - In the last layer only the rows whose hidden state is asked for (each
 *    sequence's last token) go past the keys/values, which every row needs
 *    first.
 * Attention is blocked with an online softmax (attention.c). */
#include "forward.h"

#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "attention.h"
#include "error.h"
#include "matmul.h"
#include "silu.h"

enum { ROW_CHUNK = 512 };

void qr_kv_prefix_free(qr_kv_prefix *kv) {
    if (!kv) return;
    free(kv->k);
    free(kv->v);
    memset(kv, 0, sizeof *kv);
}

/* Built for AVX-512, AVX2 and plain x86-64 (target_clones): 2.7% -> 2.3%
 * of a 500-post run (the rest is waiting on the hidden rows). Plain loops
 * over arrays, which GCC vectorises in each clone by itself; vec.h's
 * vectors of a fixed width would not fit the narrower ISAs' registers.
 * Every build gives the same bits: the eight sums are lanes whatever the
 * vector width, and a float times a float is exact in double, fused or not
 * (the 500 scores came out byte for byte the same). */
__attribute__((target_clones("avx512f", "avx2", "default"))) static void rmsnorm(float *out, const float *x,
                                                                                const float *w, int n, double eps) {
    /* eight running sums: independent lanes the compiler can vectorise
     * (one sum is a serial chain of double adds, and it may not reorder it) */
    double part[8] = {0};
    int i = 0;
    for (; i + 8 <= n; i += 8)
        for (int j = 0; j < 8; j++) part[j] += (double)x[i + j] * x[i + j];
    double ss = 0.0;
    for (int j = 0; j < 8; j++) ss += part[j];
    for (; i < n; i++) ss += (double)x[i] * x[i];
    const float scale = (float)(1.0 / sqrt(ss / n + eps));
    for (i = 0; i < n; i++) out[i] = x[i] * scale * w[i];
}

/* Rotate-half (NeoX) RoPE: dims i and i + head_dim/2 turn together. Each
 * row's cosines and sines are computed once per forward pass, into
 * cs[row][head_dim] (cosines, then sines), and serve queries and keys of
 * every layer. */
static void rope_tables(const qrank_model *m, int64_t pos, float *cosv, float *sinv) {
    const int half = m->hp.head_dim / 2;
    for (int i = 0; i < half; i++) {
        double a = (double)pos * m->rope_inv_freq[i];
        cosv[i] = (float)cos(a);
        sinv[i] = (float)sin(a);
    }
}

static void rope_apply(float *v, int head_dim, const float *cosv, const float *sinv) {
    const int half = head_dim / 2;
    for (int i = 0; i < half; i++) {
        const float x0 = v[i], x1 = v[i + half];
        v[i] = x0 * cosv[i] - x1 * sinv[i];
        v[i + half] = x1 * cosv[i] + x0 * sinv[i];
    }
}

/* q_norm / k_norm, then RoPE, on every head of n rows laid out
 * [n][n_heads*head_dim]; row r is packed row ids[r], whose rope values are
 * cs[ids[r]]. rmsnorm works in place (out[i] reads only x[i], after the
 * sum), which spares a copy of every head. */
static void norm_rope_rows(const qrank_model *m, float *x, int64_t n, int n_heads, const float *norm_w,
                           const float *cs, const int64_t *ids, int n_threads) {
    const int hd = m->hp.head_dim;
#pragma omp parallel for num_threads(n_threads) schedule(static)
    for (int64_t r = 0; r < n; r++) {
        const float *c = cs + ids[r] * hd;
        for (int h = 0; h < n_heads; h++) {
            float *v = x + (r * n_heads + h) * hd;
            rmsnorm(v, v, norm_w, hd, m->hp.rms_eps);
            rope_apply(v, hd, c, c + hd / 2);
        }
    }
}

/* What the rest of a layer needs besides the layer: the precision, the
 * hidden state (all rows) and a chunk's working buffers (ROW_CHUNK rows). */
typedef struct fw_bufs {
    qrank_precision prec;
    float *h, *xn, *att, *ob, *gate, *up;
} fw_bufs;

/* The rest of a layer for n rows (packed row ids rows[0..n)) whose queries
 * are in qb, normed and rotated: attention, the output projection, the
 * residual, the MLP and its residual, into b->h. */
static int attention_mlp(const qrank_model *m, const qr_layer *ly, const qr_att_ctx *st, const int64_t *rows,
                         int64_t n, const float *qb, const fw_bufs *b, qrank_error *err) {
    const qr_hparams *hp = &m->hp;
    const int H = hp->hidden, nt = m->n_threads;
    const qr_kernels *K = &m->kernels;
    const qrank_precision prec = b->prec;
    int rc = qr_attention(st, rows, n, qb, b->att, nt);
    if (rc) return qr_error(err, rc, "out of memory in attention");
    rc = qr_matmul(K, nt, prec, ly->wo, b->att, n, b->ob, err);
    if (rc) return rc;
#pragma omp parallel for num_threads(nt) schedule(static)
    for (int64_t r = 0; r < n; r++) {
        float *hr = b->h + rows[r] * H;
        for (int i = 0; i < H; i++) hr[i] += b->ob[r * H + i];
        rmsnorm(b->xn + r * H, hr, ly->ffn_norm, H, hp->rms_eps);
    }
    const qr_tensor *gu_w[2] = {ly->w_gate, ly->w_up};
    float *gu_y[2] = {b->gate, b->up};
    rc = qr_matmul_n(K, nt, prec, 2, gu_w, b->xn, n, gu_y, err);
    if (rc) return rc;
    qr_silu_mul(b->gate, b->up, n * hp->ffn, K->f32_lanes, nt);
    rc = qr_matmul(K, nt, prec, ly->w_down, b->gate, n, b->ob, err);
    if (rc) return rc;
#pragma omp parallel for num_threads(nt) schedule(static)
    for (int64_t r = 0; r < n; r++) {
        float *hr = b->h + rows[r] * H;
        for (int i = 0; i < H; i++) hr[i] += b->ob[r * H + i];
    }
    return QRANK_OK;
}

/* Whether p is one of seqs[0 .. n): a prefix_seq must point before its own
 * sequence, into the same array. */
static int is_earlier_seq(const qr_seq *p, const qr_seq *seqs, size_t n) {
    const uintptr_t a = (uintptr_t)p, lo = (uintptr_t)seqs;
    return a >= lo && a < lo + n * sizeof *seqs && (a - lo) % sizeof *seqs == 0;
}

/* The piece of a workspace block at *off (NULL while only sizing: base NULL). */
static void *carve(unsigned char *base, size_t *off, size_t bytes) {
    void *p = base ? base + *off : NULL;
    *off += (bytes + 63) / 64 * 64;
    return p;
}

typedef struct {
    float *h, *kall, *vall, *xn, *qb, *att, *ob, *gate, *up, *rope_cs;
    int64_t *row_seq, *row_pos, *all_rows;
    uint8_t *laid;                /* keys and values laid out once per layer (attention.h) */
    int64_t *laid_at, *laid_done; /* [n_seqs] */
} scratch;

/* The attention path of layer ly under precision prec (model.h). */
static qr_att_path layer_att_path(const qrank_model *m, const qr_layer *ly, qrank_precision prec) {
    return prec == QRANK_PRECISION_FAST ? qr_fast_att_path(m, ly->wq) : QR_ATT_F32;
}

/* The path whose layout a call keeps (qr_att_laid): the layers' bf16 path,
 * or F32 for none. */
static qr_att_path laid_path(const qrank_model *m, qrank_precision prec) {
    for (int l = 0; l < m->hp.n_layers; l++) {
        const qr_att_path p = qr_att_path_for(layer_att_path(m, &m->layers[l], prec), m->hp.head_dim);
        if (qr_att_chunk_keys(p)) return p;
    }
    return QR_ATT_F32;
}

/* Lays a call's buffers out over base in 64-byte-aligned pieces (all NULL
 * when base is NULL) and returns the bytes they take; laid_bytes for the
 * laid-out keys and values of n_seqs sequences. */
static size_t carve_scratch(const qrank_model *m, int64_t T, size_t laid_bytes, size_t n_seqs, unsigned char *base,
                            scratch *sc) {
    const qr_hparams *hp = &m->hp;
    const int64_t H = hp->hidden, hd = hp->head_dim, q_dim = hp->n_heads * hd, kv_dim = hp->n_kv_heads * hd;
    const int64_t CH = T < ROW_CHUNK ? T : ROW_CHUNK;
    size_t off = 0;
    sc->h = carve(base, &off, sizeof(float) * (size_t)(T * H));
    sc->kall = carve(base, &off, sizeof(float) * (size_t)(T * kv_dim));
    sc->vall = carve(base, &off, sizeof(float) * (size_t)(T * kv_dim));
    sc->rope_cs = carve(base, &off, sizeof(float) * (size_t)(T * hd));
    sc->row_seq = carve(base, &off, sizeof(int64_t) * (size_t)T);
    sc->row_pos = carve(base, &off, sizeof(int64_t) * (size_t)T);
    sc->all_rows = carve(base, &off, sizeof(int64_t) * (size_t)T);
    sc->xn = carve(base, &off, sizeof(float) * (size_t)(CH * H));
    sc->qb = carve(base, &off, sizeof(float) * (size_t)(CH * q_dim));
    sc->att = carve(base, &off, sizeof(float) * (size_t)(CH * q_dim));
    sc->ob = carve(base, &off, sizeof(float) * (size_t)(CH * H));
    sc->gate = carve(base, &off, sizeof(float) * (size_t)(CH * hp->ffn));
    sc->up = carve(base, &off, sizeof(float) * (size_t)(CH * hp->ffn));
    sc->laid = laid_bytes ? carve(base, &off, laid_bytes) : NULL;
    sc->laid_at = laid_bytes ? carve(base, &off, sizeof(int64_t) * n_seqs) : NULL;
    sc->laid_done = laid_bytes ? carve(base, &off, sizeof(int64_t) * n_seqs) : NULL;
    return off;
}

size_t qr_forward_scratch_bytes(const qrank_model *m, int64_t n_tokens) {
    scratch sc;
    /* under fast, the default, one sequence of them all kept laid out */
    const qr_seq one = {0, n_tokens, NULL, NULL, NULL};
    return carve_scratch(m, n_tokens, qr_att_laid_bytes(m, laid_path(m, QRANK_PRECISION_FAST), &one), 1, NULL, &sc);
}

int qr_forward(const qrank_model *m, const int32_t *tokens, const qr_seq *seqs, size_t n_seqs,
               qrank_precision prec, float *out_last, qrank_error *err) {
    const qr_hparams *hp = &m->hp;
    const int H = hp->hidden, hd = hp->head_dim, nt = m->n_threads;
    const int kv_dim = hp->n_kv_heads * hd;
    const qr_kernels *K = &m->kernels;
    if (n_seqs == 0) return QRANK_OK;
    int64_t T = 0;
    for (size_t s = 0; s < n_seqs; s++) {
        const qr_seq *sq = &seqs[s];
        if (sq->len < 1 || sq->start != T)
            return qr_error(err, QRANK_E_INVALID_ARGUMENT, "sequence %zu is empty or not packed", s);
        if (sq->prefix_seq && (sq->prefix || !is_earlier_seq(sq->prefix_seq, seqs, s) || sq->prefix_seq->prefix ||
                               sq->prefix_seq->prefix_seq))
            return qr_error(err, QRANK_E_INVALID_ARGUMENT,
                            "sequence %zu: a prefix sequence is an earlier one of the batch, without a prefix", s);
        if (sq->capture && (sq->prefix || sq->prefix_seq))
            return qr_error(err, QRANK_E_INVALID_ARGUMENT, "sequence %zu: only a sequence without a prefix is kept",
                            s);
        int64_t keys = sq->len + qr_seq_prefix_len(sq);
        if (keys > hp->context_length)
            return qr_error(err, QRANK_E_TOO_LONG, "a sequence of %lld tokens exceeds the model's %d positions",
                            (long long)keys, hp->context_length);
        T += seqs[s].len;
    }
    for (int64_t r = 0; r < T; r++)
        if (tokens[r] < 0 || tokens[r] >= hp->embedding_rows)
            return qr_error(err, QRANK_E_INVALID_ARGUMENT, "token id %d is out of range", tokens[r]);

    int rc = QRANK_OK;
    for (size_t s = 0; s < n_seqs; s++) /* freed at done: on any error */
        if (seqs[s].capture) memset(seqs[s].capture, 0, sizeof *seqs[s].capture);
    const int64_t CH = T < ROW_CHUNK ? T : ROW_CHUNK;
    /* The big buffers come from the model's kept block (workspace.h). */
    scratch sc;
    const qr_att_path lp = laid_path(m, prec);
    const size_t laid_bytes = qr_att_laid_plan(m, lp, seqs, n_seqs, NULL);
    unsigned char *ws = qr_workspace_take(m->workspace, carve_scratch(m, T, laid_bytes, n_seqs, NULL, &sc));
    if (ws) carve_scratch(m, T, laid_bytes, n_seqs, ws, &sc);
    float *h = sc.h, *kall = sc.kall, *vall = sc.vall, *xn = sc.xn, *qb = sc.qb, *att = sc.att, *ob = sc.ob,
          *gate = sc.gate, *up = sc.up, *rope_cs = sc.rope_cs;
    int64_t *row_seq = sc.row_seq, *row_pos = sc.row_pos, *all_rows = sc.all_rows;
    /* the last rows whose hidden state is asked for, and their sequences */
    int64_t *last_rows = malloc(sizeof(int64_t) * n_seqs), *last_seq = malloc(sizeof(int64_t) * n_seqs);
    unsigned char *is_prefix = calloc(n_seqs, 1);
    if (!ws || !last_rows || !last_seq || !is_prefix) {
        rc = qr_error(err, QRANK_E_NO_MEMORY, "out of memory for a batch of %lld tokens", (long long)T);
        goto done;
    }
    for (size_t s = 0; s < n_seqs; s++) {
        qr_kv_prefix *cap = seqs[s].capture;
        if (!cap) continue;
        const size_t n = (size_t)hp->n_layers * (size_t)(seqs[s].len * kv_dim);
        *cap = (qr_kv_prefix){hp->n_layers, kv_dim, seqs[s].len, malloc(sizeof(float) * n), malloc(sizeof(float) * n)};
        if (!cap->k || !cap->v) {
            rc = qr_error(err, QRANK_E_NO_MEMORY, "out of memory for the prefix cache");
            goto done;
        }
    }
    /* a sequence that is another's prefix gives keys and values, no output */
    for (size_t s = 0; s < n_seqs; s++)
        if (seqs[s].prefix_seq) is_prefix[seqs[s].prefix_seq - seqs] = 1;
    int64_t n_last = 0;
    for (size_t s = 0; s < n_seqs; s++) {
        const int64_t p0 = qr_seq_prefix_len(&seqs[s]);
        for (int64_t j = 0; j < seqs[s].len; j++) {
            row_seq[seqs[s].start + j] = (int64_t)s;
            row_pos[seqs[s].start + j] = p0 + j;
        }
        if (is_prefix[s]) continue;
        last_rows[n_last] = seqs[s].start + seqs[s].len - 1;
        last_seq[n_last++] = (int64_t)s;
    }
#pragma omp parallel for num_threads(nt) schedule(static)
    for (int64_t r = 0; r < T; r++) {
        all_rows[r] = r;
        qr_dequantize_row(m->tok_embd, tokens[r], h + r * H);
        rope_tables(m, row_pos[r], rope_cs + r * hd, rope_cs + r * hd + hd / 2);
    }

    qr_att_laid laid = {sc.laid, sc.laid_at, sc.laid_done};
    if (laid_bytes) qr_att_laid_plan(m, lp, seqs, n_seqs, sc.laid_at);
    const fw_bufs b = {prec, h, xn, att, ob, gate, up};
    for (int l = 0; l < hp->n_layers && !rc; l++) {
        const qr_layer *ly = &m->layers[l];
        const int last = l == hp->n_layers - 1;

        const qr_att_path path = layer_att_path(m, ly, prec);
        const int keep_laid = laid_bytes && qr_att_path_for(path, hd) == lp;
        if (keep_laid) memset(laid.done, 0, sizeof(int64_t) * n_seqs);
        const qr_att_ctx st = {m, seqs, row_seq, kall, vall, l, path, keep_laid ? &laid : NULL};
        /* Keys and values of every row, chunk by chunk. In every layer but
         * the last, every row goes on: its queries come from the same
         * multiplication (one rmsnorm and one quantisation of the chunk),
         * and attention follows at once, since a chunk's rows see only keys
         * of rows before them (causal, sequences in order), all done by
         * then. */
        for (int64_t c0 = 0; c0 < T && !rc; c0 += CH) {
            const int64_t n = T - c0 < CH ? T - c0 : CH;
#pragma omp parallel for num_threads(nt) schedule(static)
            for (int64_t r = 0; r < n; r++) rmsnorm(xn + r * H, h + (c0 + r) * H, ly->attn_norm, H, hp->rms_eps);
            const qr_tensor *kvq_w[3] = {ly->wk, ly->wv, ly->wq};
            float *kvq_y[3] = {kall + c0 * kv_dim, vall + c0 * kv_dim, qb};
            rc = qr_matmul_n(K, nt, prec, last ? 2 : 3, kvq_w, xn, n, kvq_y, err);
            if (rc) break;
            norm_rope_rows(m, kall + c0 * kv_dim, n, hp->n_kv_heads, ly->k_norm, rope_cs, all_rows + c0, nt);
            if (last) continue;
            norm_rope_rows(m, qb, n, hp->n_heads, ly->q_norm, rope_cs, all_rows + c0, nt);
            rc = attention_mlp(m, ly, &st, all_rows + c0, n, qb, &b, err);
        }
        for (size_t s = 0; s < n_seqs && !rc; s++) {
            const qr_kv_prefix *cap = seqs[s].capture;
            if (!cap) continue;
            const size_t n = (size_t)(seqs[s].len * kv_dim), at = (size_t)l * n;
            memcpy(cap->k + at, kall + seqs[s].start * kv_dim, sizeof(float) * n);
            memcpy(cap->v + at, vall + seqs[s].start * kv_dim, sizeof(float) * n);
        }
        if (!last) continue;

        /* the last layer: queries, attention and MLP only for the rows whose
         * hidden state is asked for */
        const int64_t n_rows = out_last ? n_last : 0;
        for (int64_t c0 = 0; c0 < n_rows && !rc; c0 += CH) {
            const int64_t n = n_rows - c0 < CH ? n_rows - c0 : CH;
            const int64_t *cr = last_rows + c0;
#pragma omp parallel for num_threads(nt) schedule(static)
            for (int64_t r = 0; r < n; r++) rmsnorm(xn + r * H, h + cr[r] * H, ly->attn_norm, H, hp->rms_eps);
            rc = qr_matmul(K, nt, prec, ly->wq, xn, n, qb, err);
            if (rc) break;
            norm_rope_rows(m, qb, n, hp->n_heads, ly->q_norm, rope_cs, cr, nt);
            rc = attention_mlp(m, ly, &st, cr, n, qb, &b, err);
        }
    }
    if (!rc && out_last) {
        memset(out_last, 0, sizeof(float) * n_seqs * (size_t)H);
        for (int64_t i = 0; i < n_last; i++)
            rmsnorm(out_last + last_seq[i] * H, h + last_rows[i] * H, m->output_norm, H, hp->rms_eps);
    }

done:
    if (rc)
        for (size_t s = 0; s < n_seqs; s++)
            if (seqs[s].capture) qr_kv_prefix_free(seqs[s].capture);
    qr_workspace_give(m->workspace, ws);
    free(last_rows);
    free(last_seq);
    free(is_prefix);
    return rc;
}
