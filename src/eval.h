/* eval.h - the parts of reranker evaluation that need no model, for tests:
 * the metrics of one ranking, parsing a set from memory, and scoring a set
 * from given scores. qrank_eval (include/qrank.h) is these plus qrank_rerank. */
#ifndef QRANK_EVAL_H
#define QRANK_EVAL_H

#include <stddef.h>

#include "qrank.h"

/* Metrics of one ranking: order[r] is the document at rank r (0-based),
 * labels[d] the graded label (0..5) of document d. A query whose labels are all 0
 * has nDCG 0; one with no label >= min_relevant has MRR and P@1 0 (qrank_eval
 * refuses such queries before it gets here). */
void qr_eval_metrics(const int *labels, const size_t *order, size_t n, int min_relevant,
                     qrank_eval_metrics *out);

/* Documents by score, best first; equal scores keep their input order. */
void qr_eval_order(const float *scores, size_t n, size_t *order);

/* Parses JSON lines; `name` prefixes error messages ("set.jsonl line 3: ..."). */
int qr_eval_set_parse(const char *text, size_t len, const char *name, qrank_eval_set **out,
                      qrank_error *err);

/* Computes every metric of the set from scores[i] (query i's document
 * scores), as qrank_eval does after reranking; the scores are copied. */
int qr_eval_set_score(qrank_eval_set *set, const float *const *scores, int min_relevant,
                      qrank_error *err);

#endif
